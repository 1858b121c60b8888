"""``aither-wm``: the command line. Parses arguments, calls the library, prints; no logic of its own.

Every report command takes ``--json`` and then prints exactly one JSON object on stdout; progress
bars and logs go to stderr. Bad input exits with status 2 and a one-line message, not a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aither_wm.errors import AitherError

__all__ = ["main"]

DEFAULT_GRAPH = "graphs/deathstarbench-socialnetwork.json"


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _one_line(e: BaseException) -> str:
    """An error message on one line (pydantic's "For further information" links dropped)."""
    lines = [x.strip() for x in str(e).splitlines() if x.strip()]
    return "; ".join(x for x in lines if not x.startswith("For further information"))


def _seed(text: str) -> int:
    """``--seed``: an integer every RNG accepts (torch and numpy refuse negatives or >= 2**63)."""
    value = int(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**63), got {text}")
    return value


def _emit(
    args: argparse.Namespace,
    result: dict[str, Any],
    text: Callable[[dict[str, Any]], str] | None = None,
) -> None:
    if getattr(args, "json", False):
        print(json.dumps(result, default=str))
    else:
        print(text(result) if text else json.dumps(result, indent=2, default=str))


def _bar(total: int, desc: str):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)


def _graph(path: str):  # type: ignore[no-untyped-def]
    from aither_wm.graph import load_graph

    return load_graph(path)


# --- commands ---------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> None:
    from aither_wm.runtime.demo import run_demo

    result = run_demo(
        Path(args.out) if args.out else None,
        quick=args.quick,
        graph_path=Path(args.graph),
        seed=args.seed,
        progress=True,
    )
    _emit(args, result, lambda r: r.get("summary_text", json.dumps(r, indent=2, default=str)))


def cmd_simulate(args: argparse.Namespace) -> None:
    from aither_wm.sim.scenarios import simulate_to_file

    faults = args.faults.split(",") if args.faults else None
    result = simulate_to_file(
        args.graph,
        steps=args.steps,
        seed=args.seed,
        faults=faults,
        out=Path(args.out),
        progress=True,
    )
    _emit(args, result)


def cmd_train(args: argparse.Namespace) -> None:
    from aither_wm.config import TrainConfig
    from aither_wm.models import WorldModel
    from aither_wm.train import TransitionDataset, fit, save_checkpoint
    from aither_wm.train.sources import load_transitions

    graph = _graph(args.graph)
    trs = load_transitions(
        graph, log=Path(args.transitions) if args.transitions else None, source=args.source,
        steps=args.transitions_steps, seed=args.seed, warn=_err,
    )  # fmt: skip
    data = TransitionDataset.from_transitions(trs, {graph.name: graph})
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lam=args.lam,
        seed=args.seed,
        device=args.device,
    )
    train, held = data.split(cfg.holdout_fraction)
    bar = _bar(cfg.steps, "train")
    model = WorldModel()

    def progress(info):  # type: ignore[no-untyped-def]
        bar.update(1)
        bar.set_postfix(pred=f"{info.pred:.4f}", reg=f"{info.reg:.3f}")

    report = fit(model, train, cfg, holdout=held, progress=progress)
    bar.close()
    path = save_checkpoint(
        model, args.out, version=1, meta={"graph": graph.name, "transitions": len(data)}
    )
    _emit(args, {
        "checkpoint": str(path), "transitions": len(data), "steps": report.steps,
        "seconds": report.seconds, "transitions_per_s": report.transitions_per_s, "final": report.final,
        "holdout": report.holdout_eval.to_dict() if report.holdout_eval else None,
    })  # fmt: skip


def cmd_plan(args: argparse.Namespace) -> None:
    from aither_wm.control.planners import PlannerService, PlanRequest
    from aither_wm.graph import ActionSpace, parse_state
    from aither_wm.train import load_checkpoint

    graph = _graph(args.graph)
    try:
        raw = json.loads(Path(args.state).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:  # ValueError covers bad UTF-8 and JSON
        raise AitherError(f"{args.state}: cannot read state JSON ({e})") from None
    state = parse_state(raw, graph)
    ck = load_checkpoint(args.checkpoint)
    service = PlannerService(args.planner, model_config=ck.model.config, graphs=[graph])
    service.load_weights(max(1, ck.version), ck.model.state_dict())
    reply = service.plan(PlanRequest(state=state, seed=args.seed))
    space = ActionSpace(graph)
    result = {**reply.to_dict(), "action_sequence": [str(space.action(a)) for a in reply.actions]}
    _emit(args, result, lambda r: "\n".join(f"{k}: {v}" for k, v in r.items()))


def cmd_run(args: argparse.Namespace) -> None:
    from aither_wm.runtime.service import run_service

    run_service(Path(args.config))


def cmd_tune(args: argparse.Namespace) -> None:
    from aither_wm.config import TrainConfig
    from aither_wm.runtime import RayHost, RuntimeConfig
    from aither_wm.runtime.tune import tune_lambda
    from aither_wm.train.sources import load_transitions

    graph = _graph(args.graph)
    trs = load_transitions(graph, log=Path(args.transitions) if args.transitions else None, source=args.source,
                           steps=args.transitions_steps, seed=args.seed, warn=_err)  # fmt: skip
    with RayHost(RuntimeConfig(num_cpus=args.parallel)):
        result = tune_lambda(graph, trs, train_config=TrainConfig(steps=args.steps, seed=args.seed),
                             max_trials=args.trials, parallel=args.parallel)  # fmt: skip

    def text(r: dict[str, Any]) -> str:
        rows = [f"{t['lam']:>9.4g}  {t['verdict']:<15} ratio {t['ratio']:.3f}  rank {t['effective_rank']:.1f}"
                f"  train SIGReg {t['train_sigreg']:.2f}" for t in r["trials"]]  # fmt: skip
        verdict = "accepted" if r["accepted"] else "no trial passed; best score"
        return "\n".join([*rows, f"pick: lambda = {r['pick']:.4g} ({verdict})"])

    _emit(args, result, text)


def cmd_plugins(args: argparse.Namespace) -> None:
    from aither_wm.registry import default_registry

    rows = default_registry().describe()
    _emit(args, {"plugins": rows}, lambda r: "\n".join(
        f"{p.get('kind', '?'):>12}  {p.get('name', '?'):<20} {p.get('source', '')}" for p in r["plugins"]))  # fmt: skip


def cmd_bench(args: argparse.Namespace) -> None:
    what = args.what
    if what == "sigreg":
        from aither_wm.bench.sigreg import format_table, run_sigreg_bench

        _emit(args, run_sigreg_bench(seed=args.seed), format_table)
    elif what in ("ablation", "train"):
        from aither_wm.config import TrainConfig
        from aither_wm.train import TransitionDataset
        from aither_wm.train.sources import load_transitions

        graph = _graph(args.graph)
        trs = load_transitions(
            graph, source=args.source, steps=args.transitions_steps, seed=args.seed, warn=_err
        )
        data = TransitionDataset.from_transitions(trs, {graph.name: graph})
        if what == "train":
            from aither_wm.bench.train import run_train_bench

            _emit(args, run_train_bench(graph, data))
        else:
            from aither_wm.bench.ablation import format_ablation, run_ablation

            bars: dict[str, Any] = {}

            def progress(name, info):  # type: ignore[no-untyped-def]
                bars.setdefault(name, _bar(args.steps, name)).update(1)

            result = run_ablation(
                graph,
                data,
                train_config=TrainConfig(steps=args.steps, seed=args.seed),
                progress=progress,
            )
            for b in bars.values():
                b.close()
            _emit(args, result, format_ablation)
    elif what == "planners":
        from aither_wm.bench.planners_model import run_planners_bench

        _emit(
            args, run_planners_bench(Path(args.graph), checkpoint=args.checkpoint, seed=args.seed)
        )
    elif what == "worldmodel":
        from aither_wm.bench.worldmodel import format_worldmodel, run_worldmodel_bench
        from aither_wm.config import TrainConfig

        bar = _bar(args.steps, "train")
        result = run_worldmodel_bench(Path(args.graph), seed=args.seed, train_config=TrainConfig(steps=args.steps, seed=args.seed),
                                      progress=lambda info: bar.update(1))  # fmt: skip
        bar.close()
        _emit(args, result, format_worldmodel)
    elif what == "runtime":
        from aither_wm.bench.runtime import run_runtime_bench

        _emit(args, run_runtime_bench(Path(args.graph), seed=args.seed))
    elif what == "sim":
        from aither_wm.bench.sim import run_sim_bench

        _emit(args, run_sim_bench())
    elif what == "anomaly":
        from aither_wm.bench.anomaly import format_anomaly, run_anomaly_bench

        bar = _bar(args.steps, "train")
        result = run_anomaly_bench(Path(args.graph), seed=args.seed, checkpoint=args.checkpoint, train_steps=args.steps,
                                   progress=lambda info: bar.update(1))  # fmt: skip
        bar.close()
        _emit(args, result, format_anomaly)
    elif what == "reliability":
        from aither_wm.bench.reliability import run_reliability_bench

        _emit(args, run_reliability_bench())
    elif what == "autoheal":
        from aither_wm.bench.autoheal import format_autoheal, run_autoheal_bench

        bars: dict[str, Any] = {}

        def phase(name, info):  # type: ignore[no-untyped-def]
            if "total" in info:
                b = bars.setdefault(name, _bar(info["total"], name))
                b.update(info["n"] - b.n)
            else:
                _err(f"[autoheal] {name}: " + ", ".join(f"{k}={v}" for k, v in info.items()))

        result = run_autoheal_bench(Path(args.graph), seed=args.seed, seeds=args.seeds, episodes=args.episodes,
                                    quick=args.quick, out_dir=args.out, checkpoint=args.checkpoint, progress=phase)  # fmt: skip
        for b in bars.values():
            b.close()
        _emit(args, result, format_autoheal)
    elif what == "decisions":
        from aither_wm.bench.decisions import format_decisions, run_decisions_bench

        result = run_decisions_bench(Path(args.graph), seed=args.seed, quick=args.quick,
                                     progress=lambda name, info: _err(f"[decisions] {name}: {info}"))  # fmt: skip
        _emit(args, result, format_decisions)


def cmd_live(args: argparse.Namespace) -> None:
    from aither_wm.live.mesh import LiveMesh, LiveMeshConfig, down

    run_dir = Path(args.run_dir)
    if args.live_command == "down":
        _emit(args, down(run_dir))
        return
    graph = _graph(args.graph)
    if args.live_command == "up":
        mesh = LiveMesh(graph, run_dir, LiveMeshConfig(rps=args.rps)).up()
        _emit(args, {"run_dir": str(run_dir), "prometheus_url": mesh.prometheus_url, "processes": mesh.procs,
                     "services": {n: s["port"] or s["redis_port"] for n, s in mesh.services.items()}})  # fmt: skip
        return
    from aither_wm.live.heal import HealConfig, run_heal

    cfg = HealConfig(
        fault=args.fault, target=args.target, policy=args.policy, duration_s=args.duration
    )
    result = run_heal(
        graph, cfg, run_dir=run_dir, model_dir=Path(args.run_dir) / "models", log=_err
    )
    _emit(args, result, lambda r: "\n".join(f"{k}: {v}" for k, v in r.items() if k != "timeline"))


# --- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aither-wm", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, *, graph: bool = True) -> None:
        if graph:
            sp.add_argument("--graph", default=DEFAULT_GRAPH, help="graph file (JSON)")
        sp.add_argument("--seed", type=_seed, default=0)
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    d = sub.add_parser(
        "demo", help="the main job: simulate, train, plan and heal on embedded local Ray"
    )
    common(d)
    d.add_argument("--quick", action="store_true", help="a smaller run (under a minute)")
    d.add_argument(
        "--out", default=None, help="folder for report.md, report.json, plots, checkpoint"
    )
    d.set_defaults(fn=cmd_demo)

    s = sub.add_parser("simulate", help="write simulated transitions to a JSONL log")
    common(s)
    s.add_argument("--steps", type=int, default=1000)
    s.add_argument("--faults", default=None, help="comma-separated fault names (default: all)")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_simulate)

    t = sub.add_parser("train", help="train a world model and write a checkpoint")
    common(t)
    t.add_argument("--transitions", default=None, help="transitions log (default: simulate)")
    t.add_argument("--source", choices=("sim", "toy"), default="sim")
    t.add_argument("--transitions-steps", type=int, default=4000, help="transitions to generate")
    t.add_argument("--steps", type=int, default=600)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lam", type=float, default=0.1)
    t.add_argument("--device", default="cpu")
    t.add_argument("--out", default="runs/world_model.pt")
    t.set_defaults(fn=cmd_train)

    pl = sub.add_parser("plan", help="plan remediation for one mesh state")
    common(pl)
    pl.add_argument("--checkpoint", required=True)
    pl.add_argument("--state", required=True, help="mesh state JSON file")
    pl.add_argument("--planner", choices=("cem", "mcts", "beam"), default="cem")
    pl.set_defaults(fn=cmd_plan)

    r = sub.add_parser("run", help="the long-running autoheal service")
    r.add_argument("--config", required=True)
    r.set_defaults(fn=cmd_run)

    b = sub.add_parser("bench", help="benchmarks")
    b.add_argument(
        "what",
        choices=(
            "sigreg",
            "ablation",
            "train",
            "worldmodel",
            "planners",
            "runtime",
            "sim",
            "anomaly",
            "autoheal",
            "decisions",
            "reliability",
        ),
    )
    common(b)
    b.add_argument("--source", choices=("sim", "toy"), default="sim")
    b.add_argument("--transitions-steps", type=int, default=3000)
    b.add_argument("--steps", type=int, default=300, help="training steps (ablation)")
    b.add_argument("--checkpoint", default=None)
    b.add_argument(
        "--episodes", type=int, default=None, help="episodes per fault type and seed (autoheal)"
    )
    b.add_argument(
        "--seeds", type=int, default=None, help="seeds, the replicates of the intervals (autoheal)"
    )
    b.add_argument(
        "--out", default=None, help="folder for report.json, report.md and plots (autoheal)"
    )
    b.add_argument(
        "--quick", action="store_true", help="the small run, a few minutes (autoheal, decisions)"
    )
    b.set_defaults(fn=cmd_bench)

    tu = sub.add_parser("tune", help="tune the world model's hyperparameter")
    tu_sub = tu.add_subparsers(dest="tune_what", required=True)
    tl = tu_sub.add_parser(
        "lambda", help="log-scale bisection of lambda, trials as parallel Ray tasks"
    )
    common(tl)
    tl.add_argument("--transitions", default=None, help="transitions log (default: simulate)")
    tl.add_argument("--source", choices=("sim", "toy"), default="sim")
    tl.add_argument("--transitions-steps", type=int, default=2400)
    tl.add_argument("--steps", type=int, default=200, help="training steps per trial")
    tl.add_argument("--trials", type=int, default=10)
    tl.add_argument("--parallel", type=int, default=2, help="trials per round (Ray tasks at once)")
    tl.set_defaults(fn=cmd_tune)

    lv = sub.add_parser("live", help="a live mesh of real processes, Redis and Prometheus")
    lv_sub = lv.add_subparsers(dest="live_command", required=True)
    for name, text in (("up", "start the live mesh (stays up)"), ("down", "stop it, no process left"),
                       ("heal", "start, inject a fault, heal, report, stop")):  # fmt: skip
        lp = lv_sub.add_parser(name, help=text)
        lp.add_argument(
            "--run-dir", default="runs/live", help="state, logs, audit and report folder"
        )
        lp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        if name != "down":
            lp.add_argument(
                "--graph", default="graphs/online-boutique.json", help="graph file (JSON)"
            )
        if name == "up":
            lp.add_argument("--rps", type=float, default=6.0, help="load on the entry points")
        if name == "heal":
            lp.add_argument(
                "--fault",
                required=True,
                help="redis_kill, process_kill, cpu_hog, memory_leak, bad_deploy, dependency_latency",
            )
            lp.add_argument(
                "--target", default=None, help="service to break (default: a sensible one)"
            )
            lp.add_argument(
                "--duration",
                type=float,
                default=60.0,
                help="seconds after the fault before giving up",
            )
            lp.add_argument("--policy", choices=("reactive", "cem", "mcts"), default="reactive")
        lp.set_defaults(fn=cmd_live)

    pg = sub.add_parser("plugins", help="plugins")
    pg_sub = pg.add_subparsers(dest="plugins_command", required=True)
    pgl = pg_sub.add_parser("list", help="list discovered plugins")
    pgl.add_argument("--json", action="store_true")
    pgl.set_defaults(fn=cmd_plugins)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except AitherError as e:
        _err(f"aither-wm {args.command}: error: {_one_line(e)}")
        return 2
    except ValidationError as e:  # a flag value a config section refuses (e.g. --steps 0)
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or e.title
        got = repr(err.get("input"))[:60]
        _err(f"aither-wm {args.command}: error: invalid {where}: {err['msg']} (got {got})")
        return 2
    except OSError as e:  # a file named on the command line cannot be read or written
        what = f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")
        _err(f"aither-wm {args.command}: error: {what}")
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
