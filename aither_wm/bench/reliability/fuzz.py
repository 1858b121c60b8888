"""Seeded random fuzzing of every input boundary: the transitions-log parser and reader, the
mesh-state parser, the graph loader, the planner API and the controller on malformed states.

A case fails when something other than the target's own clear error (LogError-style ValueError,
StateError, GraphError, ShapeError/PlanningError: an ``AitherError``) escapes, a good record is
lost, or a bad one is accepted. The CLI is fuzzed by the tests (hypothesis).
"""

from __future__ import annotations

import json
import math
import random
import tempfile
from pathlib import Path
from typing import Any

import torch

from aither_wm.bench.reliability.common import CEM_SMALL, MCTS_SMALL, TINY, bench_graph, mesh_state
from aither_wm.control import (
    AuditLog,
    AutohealController,
    ControllerConfig,
    LocalDispatcher,
    PlannerService,
    PlanRequest,
    RecordingExecutor,
    graph_to_dict,
    read_audit,
)
from aither_wm.data.log import parse_line, read_transitions
from aither_wm.errors import AitherError, GraphError, StateError
from aither_wm.graph import MeshState, ServiceGraph, graph_from_dict, nominal_service_state
from aither_wm.graph.generate import generate_graph
from aither_wm.graph.state import parse_state
from aither_wm.train.toy import toy_transitions

__all__ = ["bad_state", "fuzz_inputs", "is_finite_tree", "mutate_doc", "mutate_line"]

_SPECIALS: tuple[Any, ...] = (
    float("nan"), float("inf"), -float("inf"), 1e309, -1, -1e9, 10**30, 2**63, "", "x" * 300,
    None, [], {}, True, "NaN", 0, 1e-320,
)  # fmt: skip


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def mutate_doc(doc: Any, rng: random.Random) -> Any:
    """A structurally mutated deep copy: a value replaced, a key dropped or added."""
    doc = json.loads(json.dumps(doc))
    path = rng.choice(_paths(doc))
    if not path:
        return rng.choice(_SPECIALS)
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    op = rng.random()
    if op < 0.6:
        parent[path[-1]] = rng.choice(_SPECIALS)
    elif op < 0.8 and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[rng.choice(["bogus", "extra", "__class__", "x" * 50])] = rng.choice(_SPECIALS)
    else:
        parent.append(rng.choice(_SPECIALS))
    return doc


def mutate_line(line: bytes, rng: random.Random) -> bytes:
    op = rng.randrange(7)
    if op == 0:
        return line[: rng.randrange(len(line))]  # truncated
    if op == 1:
        b = bytearray(line)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if op == 2:
        i = rng.randrange(len(line))
        return (
            line[:i] + rng.choice([b"\xff\xfe", b"\xc3\x28", b"\x80", b"\xed\xa0\x80"]) + line[i:]
        )
    if op == 3:
        depth = rng.choice([50, 5000, 100_000])
        return b"[" * depth + b"]" * depth
    if op == 4:
        return rng.choice([b"", b"   ", b"null", b"[]", b"{}", b"1" * 5000, b'"\\ud800"'])
    doc = mutate_doc(json.loads(line), rng)
    return json.dumps(doc, allow_nan=True).encode()


def is_finite_tree(obj: Any) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(is_finite_tree(v) for v in obj.values())
    if isinstance(obj, list):
        return all(is_finite_tree(v) for v in obj)
    return True


def _fuzz_log(cases: int, rng: random.Random, workdir: Path) -> dict[str, Any]:
    g = bench_graph(6)
    trs = toy_transitions(g, steps=16, seed=rng.randrange(99))
    good = [t.model_dump_json().encode() for t in trs]
    good_set = set(good)
    lines, n_good, failures, examples = [], 0, 0, []
    for _ in range(cases):
        if rng.random() < 0.25:
            raw, is_good = rng.choice(good), True
        else:
            raw, is_good = mutate_line(rng.choice(good), rng), False
        try:
            t = parse_line(raw)
            bad = (is_good and t is None) or (t is not None and not is_finite_tree(t.model_dump()))
        except ValueError:
            bad = is_good
        except Exception as e:  # anything else escaping the parser is a failure
            bad = True
            examples.append(f"{type(e).__name__}: {str(e)[:80]}")
        failures += bad
        n_good += is_good
        lines.append(raw)
    path = workdir / "fuzz.jsonl"
    path.write_bytes(b"\n".join(x.replace(b"\n", b" ") for x in lines))  # last line: no newline
    try:
        report = read_transitions(path)
        kept = sum(1 for t in report.transitions if t.model_dump_json().encode() in good_set)
        failures += max(0, n_good - kept)
    except Exception as e:
        failures += 1
        examples.append(f"read_transitions: {type(e).__name__}: {str(e)[:80]}")
    return {
        "target": "transitions log parser + reader",
        "cases": cases,
        "failures": failures,
        "examples": examples[:3],
    }


def _fuzz_states(cases: int, rng: random.Random) -> dict[str, Any]:
    g = bench_graph(6)
    base = mesh_state(g).model_dump(mode="json")
    failures, examples = 0, []
    for _ in range(cases):
        doc = mutate_doc(base, rng)
        for _ in range(rng.randint(0, 2)):
            doc = mutate_doc(doc, rng) if isinstance(doc, (dict, list)) else doc
        try:
            s = parse_state(doc, g)
            bad = not is_finite_tree(s.model_dump())
        except StateError:
            bad = False
        except Exception as e:
            bad = True
            examples.append(f"{type(e).__name__}: {str(e)[:80]}")
        failures += bad
    return {
        "target": "mesh-state parser",
        "cases": cases,
        "failures": failures,
        "examples": examples[:3],
    }


def _graph_doc(rng: random.Random) -> Any:
    doc = graph_to_dict(generate_graph(rng.randint(1, 8), seed=rng.randrange(99)))
    svcs, edges = doc["services"], doc["edges"]
    op = rng.randrange(7)
    if op == 0 and svcs:
        edges.append({"from": svcs[0]["name"], "to": svcs[0]["name"]})  # self-loop
    elif op == 1 and svcs:
        svcs.append(dict(svcs[-1]))  # duplicate name
    elif op == 2:
        edges.append({"from": svcs[0]["name"], "to": "ghost"})  # unknown service
    elif op == 3:
        doc["services"] = []  # empty graph
    elif op == 4:
        doc = mutate_doc(doc, rng)
    elif op == 5:
        edges.extend(dict(e) for e in edges[:2])  # duplicate edges
    return doc


def _fuzz_graphs(cases: int, rng: random.Random) -> dict[str, Any]:
    failures, examples = 0, []
    for _ in range(cases):
        doc = _graph_doc(rng)
        try:
            g = graph_from_dict(doc, source="fuzz")
            names = [s["name"] for s in doc["services"]]
            bad = (
                g.num_services != len(names)
                or len(set(names)) != len(names)
                or any(u == v for u, v in g.digraph.edges)
            )
        except GraphError:
            bad = False
        except Exception as e:
            bad = True
            examples.append(f"{type(e).__name__}: {str(e)[:80]}")
        failures += bad
    return {
        "target": "graph loader",
        "cases": cases,
        "failures": failures,
        "examples": examples[:3],
    }


def bad_state(graph: ServiceGraph, rng: random.Random, step: int) -> MeshState:
    """A MeshState built without validation (as a careless state source could): NaN, absurd,
    missing or foreign values."""
    base = mesh_state(graph, step)
    services: dict[str, Any] = dict(base.services)
    name = rng.choice(graph.services)
    op = rng.randrange(6)
    if op == 0:
        field = rng.choice(
            ["cpu_util", "memory_util", "latency_p99_ms", "error_rate", "request_rate_rps"]
        )
        services[name] = services[name].model_construct(
            **{
                **services[name].model_dump(),
                field: rng.choice([float("nan"), float("inf"), 1e308, -5.0]),
            }
        )
    elif op == 1:
        services[name] = services[name].model_construct(
            **{**services[name].model_dump(), "replicas": -3}
        )
    elif op == 2:
        del services[name]
    elif op == 3:
        services["ghost"] = nominal_service_state()
    elif op == 4:
        return MeshState.model_construct(graph="another", step=step, services=services)
    else:
        services[name] = {"cpu_util": "high"}
    return MeshState.model_construct(graph=graph.name, step=step, services=services)


def _fuzz_planner_api(cases: int, rng: random.Random) -> dict[str, Any]:
    g = bench_graph(6)
    services = {
        k: PlannerService(k, model_config=TINY, graphs=[g], planner_config=cfg)
        for k, cfg in (("cem", CEM_SMALL), ("mcts", MCTS_SMALL), ("beam", {"horizon": 2}))
    }
    from aither_wm.planning import PlanObjective, action_costs, flat_type_ids
    from aither_wm.planning.testing import MLPDynamics

    K, D = 1 + 4 * 5, 10
    dyn = MLPDynamics(num_actions=K, latent_dim=D, hidden_dim=16, embed_dim=4, seed=1)
    objective = PlanObjective(goal=torch.zeros(D), action_cost=action_costs(flat_type_ids(5)))
    failures, examples = 0, []
    for i in range(cases):
        name = rng.choice(sorted(services))
        try:
            if rng.random() < 0.5:
                reply = services[name].plan(PlanRequest(state=bad_state(g, rng, i), seed=i))
                bad = not (
                    math.isfinite(reply.cost) and 0 <= reply.first_action < 1 + 4 * g.num_services
                )
            else:
                shape = rng.choice([(D,), (D,), (D + 1,), (1, D), ()])
                z0 = torch.randn(shape) * rng.choice([1.0, 1e3, 1e30])
                if rng.random() < 0.3 and z0.numel():
                    z0.view(-1)[0] = rng.choice([float("nan"), float("inf")])
                mask = torch.rand(rng.choice([K, K, K - 1])) < rng.random()
                if rng.random() < 0.1:
                    mask = mask.float()
                r = services[name].planner.plan(dyn, z0, objective, mask, seed=i)
                bad = not (math.isfinite(r.cost) and all(bool(mask[a]) for a in r.actions))
        except AitherError:
            bad = False
        except Exception as e:
            bad = True
            examples.append(f"{name}: {type(e).__name__}: {str(e)[:80]}")
        failures += bad
    return {
        "target": "planner API (PlannerService + planners)",
        "cases": cases,
        "failures": failures,
        "examples": examples[:3],
    }


def _fuzz_controller(cases: int, rng: random.Random, workdir: Path) -> dict[str, Any]:
    g = bench_graph(6)
    svc = PlannerService("cem", model_config=TINY, graphs=[g], planner_config=CEM_SMALL)
    audit = AuditLog(workdir / "fuzz-audit.jsonl")
    ctl = AutohealController(
        g,
        LocalDispatcher({"cem": svc}),
        RecordingExecutor(),
        config=ControllerConfig(deadline_ms=2000),
        audit=audit,
    )
    failures, examples, decisions = 0, [], 0
    for i in range(cases):
        step = 2 * i
        try:
            ctl.decide(bad_state(g, rng, step))
            decisions += 1
            bad = False
        except AitherError:
            bad = False
        except Exception as e:
            bad = True
            examples.append(f"{type(e).__name__}: {str(e)[:80]}")
        try:  # the controller keeps running: the next good state gets a normal decision
            d = ctl.decide(mesh_state(g, step + 1, broken=g.services[-1]))
            decisions += 1
            bad = bad or d.duplicate
        except Exception as e:
            bad = True
            examples.append(f"after: {type(e).__name__}: {str(e)[:80]}")
        failures += bad
    audit.close()
    audited = len(read_audit(workdir / "fuzz-audit.jsonl").records)
    failures += audited != decisions
    return {
        "target": "controller on malformed states",
        "cases": cases,
        "failures": failures,
        "examples": examples[:3],
    }


def fuzz_inputs(
    cases: int = 400, *, seed: int = 0, workdir: str | Path | None = None
) -> list[dict[str, Any]]:
    """Seeded random fuzzing of every input boundary (``cases`` per target, fewer for the costly
    planner and controller targets). The CLI is fuzzed by the tests (hypothesis)."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="aither-fuzz-") as tmp:
        wd = Path(workdir) if workdir is not None else Path(tmp)
        wd.mkdir(parents=True, exist_ok=True)
        return [
            _fuzz_log(cases * 5, rng, wd),
            _fuzz_states(cases, rng),
            _fuzz_graphs(cases, rng),
            _fuzz_planner_api(max(10, cases // 4), rng),
            _fuzz_controller(max(5, cases // 10), rng, wd),
        ]
