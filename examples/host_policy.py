"""A remediation policy on aither-wm's host API (docs/host.md walks through it).

Run it from anywhere once aither-wm is installed::

    python examples/host_policy.py                 # the example state shipped beside this file
    python examples/host_policy.py --state s.json  # a state of your own (aither-wm state example)
    python examples/host_policy.py --json          # the decisions as one JSON object

It starts the plugin (an embedded Ray sized to this machine, a trainer, a CEM and an MCTS planner
actor), trains the world model briefly on simulated transitions (a real host sends the
transitions it logged), then asks for one guarded decision (both planners at once, the pick and
why, the guard's verdict) and for the MCTS planner's own plan, synchronously and with asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from aither_wm.apps.presets import SMALL_MODEL
from aither_wm.config import TrainConfig
from aither_wm.control import ControllerConfig
from aither_wm.runtime import AitherPlugin, PluginConfig, RuntimeConfig
from aither_wm.sim.scenarios import generate_transitions

HERE = Path(__file__).resolve().parent


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--state", default=HERE / "states" / "online-boutique-bad-deploy.json")
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    state = json.loads(Path(args.state).read_text())  # the JSON state format (docs/host.md)

    config = PluginConfig(
        graph=state["graph"],  # a shipped graph's name, or a graph file
        model=SMALL_MODEL,  # small enough to train in seconds on a laptop
        train=TrainConfig(steps=args.train_steps, batch_size=32),
        checkpoint=None,  # keep nothing on disk (a service keeps runs/world_model.pt)
        trainer_transitions_log=None,
        runtime=RuntimeConfig(namespace="aither_wm_example"),
    )
    # Dry-run guard (the default): decide and audit, execute nothing. Generous deadline: the
    # first plan of a fresh actor also builds its caches.
    controller = ControllerConfig(deadline_ms=10_000)
    with AitherPlugin(config, controller=controller) as plugin:
        history = list(generate_transitions(plugin.graph, episodes=4, steps=60, seed=0))
        trained = plugin.train(history)

        decision = plugin.decide(state)  # both planners at once, the pick, the guard
        mcts = plugin.plan(state, planner="mcts")  # one planner's plan, not guarded
        cem = asyncio.run(plugin.plan_async(state, planner="cem"))  # the same, awaited
        again = asyncio.run(plugin.decide_async(state))  # shed: the same step was decided

    result = {
        "trained_version": trained["version"],
        "plans": {
            name: {
                "status": o.status,
                "action": str(o.reply.action) if o.reply else None,
                "cost": o.reply.cost if o.reply else None,
                "weights_version": o.reply.weights_version if o.reply else None,
            }
            for name, o in decision.outcomes.items()
        },
        "chosen": decision.chosen,
        "action": str(decision.action),
        "reason": decision.reason,
        "guard": decision.verdict.to_dict(),
        "executed": decision.executed,
        "mcts_plan": list(mcts.actions),
        "mcts_first": str(mcts.action),
        "cem_first": str(cem.action),
        "async_decision_id_same": again.decision_id == decision.decision_id,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for name, p in result["plans"].items():
            print(f"{name:>5}: {p['status']:<8} {p['action']}  predicted cost {p['cost']:.3f}")
        print(f"chosen: {result['chosen']} -> {result['action']} ({result['reason']})")
        verdict = (
            "allowed" if result["guard"]["allowed"] else f"refused {result['guard']['reasons']}"
        )
        print(f"guard: {verdict}; executed: {result['executed']} (dry-run)")
        print(f"mcts alone: {result['mcts_first']}; cem (async): {result['cem_first']}")
    return result


if __name__ == "__main__":
    main()
