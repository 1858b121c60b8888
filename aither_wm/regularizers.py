"""Anti-collapse regularisers for the latent space: SIGReg (reference) and two documented baselines.

Glossary: N samples in the batch, D latent size, P slices (projections), K quadrature knots.

:class:`SIGReg` is the Sketched Isotropic Gaussian Regulariser: it projects the embeddings on P
random unit directions and measures, on every slice, how far the empirical characteristic
function (ECF) is from that of N(0, 1) with the Epps-Pulley statistic (:func:`epps_pulley`). The
directions are drawn afresh at every call. No centring and no standardisation: scale and location
errors are exactly what it must see. Known answers (D = 256, P = 1024): about 1.06 on N(0, I)
whatever N (the noise floor sqrt(2 pi) - sqrt(2 pi / 3)); about 1.05 N when the batch collapses to
a random point; a fixed discrepancy delta gives about 1.06 + N delta.

Limit of random slices (Diaconis-Freedman): random projections of high-dimensional data with
independent coordinates look Gaussian, so data whose every coordinate is independently +-1 scores
the noise floor (about 1.03) on random slices. The D coordinate axes used as extra slices see it at
once (about 104 on those slices); ``use_axis_slices=True`` adds them to the bank.

:class:`SeedSIGReg` (the seed post's formula) and :class:`VICRegPenalty` (the variance +
covariance penalty it replaced) are kept only as baselines for ``aither-wm bench sigreg``; their
blind spots are stated in their docstrings. Do not train with them.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aither_wm.errors import ConfigError, ShapeError

__all__ = [
    "NUM_KNOTS",
    "T_MAX",
    "SIGReg",
    "SIGRegConfig",
    "SeedSIGReg",
    "VICRegPenalty",
    "epps_pulley",
]

#: Quadrature knots on [0, T_MAX]; the integrand is even, so [-T_MAX, 0] is folded onto them.
NUM_KNOTS = 17
T_MAX = 3.0


def _quadrature() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Knots t_k, windowed weights w_k and the target CF exp(-t_k^2 / 2), all [K] float64.

    Trapezoid on [0, T_MAX] with step s has weights s/2 at the ends and s inside; doubling it for
    the mirrored half gives s at t = 0 and t = T_MAX and 2s inside. Each is multiplied by the
    window exp(-t^2 / 2).
    """
    t = torch.linspace(0.0, T_MAX, NUM_KNOTS, dtype=torch.float64)  # [K]
    s = T_MAX / (NUM_KNOTS - 1)
    w = torch.full((NUM_KNOTS,), 2.0 * s, dtype=torch.float64)
    w[0] = w[-1] = s
    gauss_cf = torch.exp(-0.5 * t**2)
    return t, w * gauss_cf, gauss_cf


_KNOTS, _WEIGHTS, _GAUSS_CF = _quadrature()


def _ecf_moments(h: torch.Tensor, knots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of the ECF of every slice at every knot.

    Shape:
        h: [N, P]; knots: [K]; returns (mean_n cos(t_k h_np), mean_n sin(t_k h_np)), each [P, K].
    """
    th = h.unsqueeze(-1) * knots  # [N, P, K]
    return th.cos().mean(dim=0), th.sin().mean(dim=0)  # [P, K] each


def _ecf_distance(
    cos_mean: torch.Tensor,
    sin_mean: torch.Tensor,
    n: int,
    weights: torch.Tensor,
    gauss_cf: torch.Tensor,
) -> torch.Tensor:
    """Epps-Pulley statistic from ECF moments: N * sum_k w_k |phi(t_k) - exp(-t_k^2/2)|^2.

    Shared by :func:`epps_pulley` (local moments, local N) and :class:`SIGReg` under DDP (moments
    averaged over ranks, global N), so both paths compute the same number.

    Shape:
        cos_mean, sin_mean: [P, K]; weights, gauss_cf: [K]; returns [P].
    """
    err = (cos_mean - gauss_cf) ** 2 + sin_mean**2  # [P, K]
    return n * (err @ weights)  # [P]


def _check_2d(x: torch.Tensor, name: str, *, min_rows: int = 2) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ShapeError(f"{name} must be a 2-D tensor [N, D], got {got}")
    if x.shape[0] < min_rows:
        raise ShapeError(f"{name} needs N >= {min_rows} rows, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ShapeError(f"{name} must be a floating-point tensor, got {x.dtype}")


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float32 and float64 are kept; half precision is lifted to float32 (cos/sin means need it)."""
    return x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32


def epps_pulley(x: torch.Tensor) -> torch.Tensor:
    """Epps-Pulley statistic of every column of ``x`` against N(0, 1).

    T_p = N * sum_k w_k [(mean_n cos(t_k x_np) - exp(-t_k^2/2))^2 + (mean_n sin(t_k x_np))^2]
    with 17 knots t_k = 3k/16 on [0, 3] and w_k the doubled trapezoid weights times the window
    exp(-t_k^2/2): an approximation of N * integral over [-3, 3] of
    exp(-t^2/2) |phi_N(t) - exp(-t^2/2)|^2 dt. No centring, no standardisation. About 1.06 in
    expectation on N(0, 1) samples whatever N; grows like N for a fixed departure.

    Shape:
        x: [N, P] float, N >= 2; returns [P] in x's dtype (float32 for half precision).

    Raises:
        ShapeError: ``x`` is not 2-D floating point or has fewer than 2 rows.
    """
    _check_2d(x, "epps_pulley input")
    dtype = _compute_dtype(x)
    x = x.to(dtype)
    knots, weights, gauss_cf = (
        c.to(device=x.device, dtype=dtype) for c in (_KNOTS, _WEIGHTS, _GAUSS_CF)
    )
    cos_mean, sin_mean = _ecf_moments(x, knots)
    return _ecf_distance(cos_mean, sin_mean, x.shape[0], weights, gauss_cf)


class SIGRegConfig(BaseModel):
    """Settings of :class:`SIGReg`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_slices: int = Field(default=1024, ge=1, le=1_000_000)
    """P, random unit directions drawn at every call (LeWM uses 1024)."""

    use_axis_slices: bool = False
    """Also slice along the D coordinate axes (mean over all P + D slices). Catches
    per-coordinate non-Gaussianity that random slices cannot see (Diaconis-Freedman)."""

    seed: int = Field(default=0, ge=0, lt=2**63)
    """Seed of the direction generator; with the step counter it fixes every call's directions."""


_MASK64 = (1 << 64) - 1


def _mix_seed(seed: int, step: int) -> int:
    """One 63-bit generator seed from (seed, step) (splitmix64 finaliser)."""
    x = (seed * 0x9E3779B97F4A7C15 + step + 1) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (x ^ (x >> 31)) >> 1


class _AllReduceSum(torch.autograd.Function):
    """Differentiable sum over ranks. Backward sums the incoming gradients over ranks too.

    Every rank computes the same loss L from the reduced tensor, so the gradient a rank gets for
    its local input is that of sum_ranks L = world_size * L; DDP's gradient averaging divides by
    world_size again. This is the same convention as a per-rank mean loss under DDP.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out


def _is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class SIGReg(torch.nn.Module):
    """Sketched Isotropic Gaussian Regulariser: mean Epps-Pulley statistic over random slices.

    Every call draws P new unit directions U [D, P] from a ``torch.Generator`` seeded by
    (``seed``, step counter), projects h = z @ U and returns the mean of :func:`epps_pulley` over
    the slices. The counter then advances, so a run is reproducible from (seed, step), and the
    counter is saved in ``state_dict`` (extra state) so a resumed run continues the sequence. The
    generator lives on z's device: CPU and CUDA runs draw different (equally valid) directions.
    With ``use_axis_slices`` the D coordinate axes are appended to the bank (P + D slices, one
    mean), which catches per-coordinate non-Gaussianity (e.g. every coordinate +-1) that random
    slices miss: their projections look Gaussian (Diaconis-Freedman).

    Under ``torch.distributed`` (initialised, world size > 1) every rank draws the same
    directions (same seed, and the counter advances once per call on every rank, as the
    collective requires anyway), the per-slice cos/sin means are averaged over ranks, weighted by
    the local batch sizes, through a differentiable all-reduce, and the statistic is multiplied by
    the global N. The value on every rank then equals the single-process value on the
    concatenated batch; the gradient on each rank's local rows is world_size times the
    single-process one, which DDP's gradient averaging turns into the single-process parameter
    gradient (the same convention as a per-rank mean loss). Every rank must call it.

    Half-precision inputs are computed in float32 (and autocast is disabled inside), as the cos/sin
    means need the precision; float32 and float64 are kept.

    Shape:
        z: [N, D] float with N >= 2 (per rank under DDP); returns a scalar.
    """

    knots: torch.Tensor
    weights: torch.Tensor
    gauss_cf: torch.Tensor

    def __init__(
        self,
        config: SIGRegConfig | None = None,
        *,
        num_slices: int | None = None,
        use_axis_slices: bool | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        config = config or SIGRegConfig()
        overrides = {
            k: v
            for k, v in (
                ("num_slices", num_slices),
                ("use_axis_slices", use_axis_slices),
                ("seed", seed),
            )
            if v is not None
        }
        if overrides:
            try:
                config = SIGRegConfig.model_validate({**config.model_dump(), **overrides})
            except ValidationError as e:
                raise ConfigError(f"invalid SIGReg setting: {e}") from e
        self.config = config
        self._step = 0
        self._generators: dict[torch.device, torch.Generator] = {}
        self.register_buffer("knots", _KNOTS.clone(), persistent=False)
        self.register_buffer("weights", _WEIGHTS.clone(), persistent=False)
        self.register_buffer("gauss_cf", _GAUSS_CF.clone(), persistent=False)

    @property
    def step(self) -> int:
        """Number of calls so far; the next call draws the directions of this step."""
        return self._step

    def reset(self, step: int = 0) -> None:
        """Set the step counter (the next call draws the directions of ``step``)."""
        if step < 0:
            raise ConfigError(f"step must be >= 0, got {step}")
        self._step = int(step)

    def get_extra_state(self) -> dict[str, int]:
        return {"step": self._step}

    def set_extra_state(self, state: dict[str, int]) -> None:
        self.reset(int(state["step"]))

    def directions(
        self,
        dim: int,
        *,
        step: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """The slice directions of ``step`` (default: the next call's), without advancing.

        Shape:
            returns U [D, P] (or [D, P + D] with axis slices), unit-norm columns.
        """
        step = self._step if step is None else step
        device = torch.device("cpu") if device is None else torch.device(device)
        dtype = torch.float32 if dtype is None else dtype
        gen = self._generators.get(device)
        if gen is None:
            gen = self._generators[device] = torch.Generator(device=device)
        gen.manual_seed(_mix_seed(self.config.seed, step))
        P = self.config.num_slices
        # Drawn in float32 so float32 and float64 inputs see the same directions.
        U = torch.randn(dim, P, generator=gen, device=device, dtype=torch.float32).to(dtype)
        U = U / U.norm(dim=0, keepdim=True)  # [D, P]
        if self.config.use_axis_slices:
            U = torch.cat([U, torch.eye(dim, device=device, dtype=dtype)], dim=1)  # [D, P + D]
        return U

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_2d(z, "SIGReg input")
        N, D = z.shape
        dtype = _compute_dtype(z)
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = z.to(dtype)
            U = self.directions(D, device=z.device, dtype=dtype)  # [D, P]
            self._step += 1
            knots, weights, gauss_cf = (
                c.to(device=z.device, dtype=dtype)
                for c in (self.knots, self.weights, self.gauss_cf)
            )
            h = z @ U  # [N, P]
            cos_mean, sin_mean = _ecf_moments(h, knots)  # [P, K] each
            n = N
            if _is_distributed():
                # One collective: local sums of cos and sin, and the local N in the last slot.
                local = torch.cat(
                    [
                        (torch.stack([cos_mean, sin_mean]) * N).flatten(),  # [2 * P * K]
                        torch.tensor([float(N)], device=z.device, dtype=dtype),
                    ]
                )
                total = _AllReduceSum.apply(local)
                n = round(total[-1].item())
                cos_mean, sin_mean = (total[:-1] / n).view(2, *cos_mean.shape).unbind(0)
            return _ecf_distance(cos_mean, sin_mean, n, weights, gauss_cf).mean()

    def compute(self, embeddings: torch.Tensor) -> torch.Tensor:
        """The seed's interface: same as calling the module (advances the step counter)."""
        return self(embeddings)

    def extra_repr(self) -> str:
        c = self.config
        return f"num_slices={c.num_slices}, use_axis_slices={c.use_axis_slices}, seed={c.seed}"


class SeedSIGReg(torch.nn.Module):
    """The seed post's "SIGReg", kept only as a measured baseline. Do not train with it.

    It standardises every dimension over the batch, projects on P directions drawn ONCE, and
    scores mean_k (|phi(t_k)|^2 - exp(-t_k^2))^2 on a symmetric grid, with no window and no factor
    N; it returns 0 when N < 4. The seed does not give its grid; its code says 20 test points, and
    its three published values (0.002 / 0.167 / 0.436) come out together with a grid of about
    linspace(-1.9, 1.9, 17) at N about 64, so the default here is linspace(-1.9, 1.9, 20) (the
    statistic is a mean over the grid, so 17 or 20 points on that range give nearly equal values).

    Blind spots, measured at D = 256, N = 1000 (reference SIGReg in brackets):

    - scale: standardisation erases it. N(0, 0.25 I) scores 0.0001 (151).
    - location: standardisation and the modulus |phi|^2 erase it. N(1, I) scores 0.0001 (398).
    - jitter-collapse: every sample at one point plus 1e-4 noise is standardised back to a
      Gaussian cloud and scores 0.0001 (1020); the exact collapse scores only 0.43-0.74
      (grid dependent) with a gradient of about 6e-9. Rank-4 data scores 0.03 (59).
    - per-coordinate +-1 data scores 0.0001 (1.03: random slices miss it too; axis slices don't).

    Its lambda does not transfer to :class:`SIGReg`: the two differ by 10^3 to 10^4.

    Shape:
        embeddings: [N, D] with D = ``latent_dim``; returns a scalar.
    """

    directions: torch.Tensor
    test_points: torch.Tensor

    def __init__(
        self,
        latent_dim: int = 256,
        num_projections: int = 256,
        num_test_points: int = 20,
        *,
        t_max: float = 1.9,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if latent_dim < 1 or num_projections < 1 or num_test_points < 2 or not t_max > 0:
            raise ConfigError(
                "SeedSIGReg needs latent_dim >= 1, num_projections >= 1, num_test_points >= 2, "
                f"t_max > 0; got {latent_dim}, {num_projections}, {num_test_points}, {t_max}"
            )
        gen = torch.Generator().manual_seed(seed)
        U = torch.randn(latent_dim, num_projections, generator=gen)  # [D, P]
        self.register_buffer("directions", U / U.norm(dim=0, keepdim=True))
        self.register_buffer("test_points", torch.linspace(-t_max, t_max, num_test_points))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        _check_2d(embeddings, "SeedSIGReg input", min_rows=1)
        B, D = embeddings.shape
        if self.directions.shape[0] != D:
            raise ShapeError(f"SeedSIGReg expects [N, {self.directions.shape[0]}], got [{B}, {D}]")
        if B < 4:
            return embeddings.sum() * 0.0  # the seed's small-batch guard (0, still in the graph)
        dtype = _compute_dtype(embeddings)
        x = embeddings.to(dtype)
        std = x.std(dim=0).clamp(min=1e-8)  # [D]
        z = (x - x.mean(dim=0)) / std  # [N, D]
        h = z @ self.directions.to(x.device, dtype)  # [N, P]
        t = self.test_points.to(x.device, dtype)  # [K]
        cos_mean, sin_mean = _ecf_moments(h, t)  # [P, K] each
        ecf_sq = cos_mean**2 + sin_mean**2  # [P, K]
        return ((ecf_sq - torch.exp(-(t**2))) ** 2).mean()

    def compute(self, embeddings: torch.Tensor) -> torch.Tensor:
        """The seed's interface: same as calling the module."""
        return self(embeddings)


class VICRegPenalty(torch.nn.Module):
    """The variance + covariance penalty SIGReg replaced, kept only as a measured baseline.

    relu(1 - std_d).mean() + sum of squared off-diagonal covariances / D (unbiased estimates).

    Blind spot: it sees only second moments. Data with every coordinate +1 or -1, variance 1 and
    zero covariance (e.g. the columns of a Hadamard matrix) scores exactly 0 although it is two
    point masses per axis. (The seed's "bimodal" test, each whole row +1 or -1, is rank 1: all
    coordinates are perfectly correlated and this penalty does see it, through the covariance.)

    Shape:
        embeddings: [N, D], N >= 2; returns a scalar.
    """

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        _check_2d(embeddings, "VICRegPenalty input")
        B, D = embeddings.shape
        x = embeddings.to(_compute_dtype(embeddings))
        variance = torch.relu(1.0 - x.std(dim=0)).mean()
        xc = x - x.mean(dim=0)
        cov = xc.T @ xc / (B - 1)  # [D, D]
        off_diag = cov - torch.diag(torch.diagonal(cov))
        return variance + (off_diag**2).sum() / D

    def compute(self, embeddings: torch.Tensor) -> torch.Tensor:
        """The seed's interface: same as calling the module."""
        return self(embeddings)
