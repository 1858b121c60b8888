import math
import random

import pytest

from aither_wm.anomaly import DetectorConfig, SurpriseDetector


def _nominal(rng: random.Random) -> float:
    return math.exp(rng.gauss(-3.0, 0.4))  # log-normal surprise, like a squared error


def test_false_alarm_rate_on_nominal_traffic_is_within_the_3_sigma_rate():
    rng = random.Random(0)
    det = SurpriseDetector()
    opens = sum(
        1 for _ in range(20_000) for ev in det.update(_nominal(rng)).events if ev.kind == "open"
    )
    # one-sided 3-sigma tail: 0.135% of steps; nominal rate quoted by the seed: 0.27% (two-sided)
    assert opens / 20_000 < 0.0027, opens


def test_a_step_change_is_one_incident_with_escalation_and_close():
    rng = random.Random(1)
    det = SurpriseDetector(DetectorConfig(cooldown_steps=10))
    seen = []
    det.subscribe(seen.append)
    for _ in range(200):
        det.update(_nominal(rng))
    assert not seen
    for _ in range(20):  # e^3 times the usual surprise: about 7.5 robust sigmas
        det.update(_nominal(rng) * math.exp(3.0))
    for _ in range(50):
        det.update(_nominal(rng))
    kinds = [(e.kind, e.level) for e in seen]
    assert kinds[0] == ("open", "critical") or kinds[:2] == [
        ("open", "warning"),
        ("escalate", "critical"),
    ]
    assert kinds[-1][0] == "close" and sum(k == "open" for k, _ in kinds) == 1
    assert all(e.incident == 1 for e in seen)


def test_warmup_gives_no_verdict_and_bad_values_are_refused():
    det = SurpriseDetector(DetectorConfig(warmup_steps=10))
    for _ in range(9):
        v = det.update(100.0)
        assert math.isnan(v.z) and v.level == "normal"
    with pytest.raises(ValueError, match="finite"):
        det.update(float("nan"))
    with pytest.raises(ValueError):
        det.update(-1.0)


def test_incident_values_do_not_poison_the_baseline():
    rng = random.Random(2)
    det = SurpriseDetector(DetectorConfig(clear_steps=1000))  # an incident that never closes
    for _ in range(100):
        det.update(_nominal(rng))
    z_before = det.zscore(math.exp(-1.0))
    for _ in range(300):
        det.update(math.exp(-1.0))
    assert det.zscore(math.exp(-1.0)) == pytest.approx(z_before)


def test_open_loop_surprise_matches_a_step_by_step_rollout():
    import torch

    from aither_wm.anomaly.surprise import open_loop_surprise
    from aither_wm.config import EncoderConfig, PredictorConfig, ProjectorConfig, WorldModelConfig
    from aither_wm.models import WorldModel

    torch.manual_seed(0)
    cfg = WorldModelConfig(encoder=EncoderConfig(d_model=16, num_layers=1, num_heads=2, embed_dim=16),
                           projector=ProjectorConfig(hidden_dim=16, latent_dim=8),
                           predictor=PredictorConfig(hidden_dim=16, num_blocks=1, action_dim=8))  # fmt: skip
    model = WorldModel(cfg).eval()
    with torch.no_grad():
        for p in model.predictor.parameters():
            p.normal_(0, 0.3)
    T, k = 12, 4
    z, a, zn = torch.randn(T, 8), torch.randn(T, 8), torch.randn(T, 8)
    got = open_loop_surprise(model, z, a, zn, k)
    for t in range(T):
        s = max(0, t - k + 1)
        zz = z[s : s + 1]
        with torch.no_grad():
            for j in range(s, t + 1):
                zz = model.predict(zz, a[j : j + 1])
        assert torch.allclose(got[t], (zz[0] - zn[t]).pow(2).mean(), atol=1e-5)
    one = open_loop_surprise(model, z, a, zn, 1)
    with torch.no_grad():
        assert torch.allclose(one, (model.predict(z, a) - zn).pow(2).mean(-1), atol=1e-5)
