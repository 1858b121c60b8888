"""The autoheal controller: ask every planner at once, compare, pick, guard, execute, audit.

One :meth:`AutohealController.decide` call:

1. sends the same :class:`~aither_wm.control.planners.PlanRequest` (state, seed, search budget) to
   every planner through a :class:`~aither_wm.control.planners.Dispatcher` and waits at most
   ``deadline_ms`` for all of them together (in-process threads, or Ray actors via
   ``aither_wm.runtime``): the wait is the slowest planner's time, not the sum;
2. keeps the valid answers (status ok, finite cost, a first action that the current mask allows:
   the controller decodes the flat index itself and never trusts a planner's Action);
3. compares them: predicted cost under the shared objective, agreement on the first action,
   round-trip latency, and picks one by ``pick``: ``lowest_cost`` (plans from the newest weights
   only, since costs under different models are not comparable; ties go to ``preference``),
   ``prefer_cem`` or ``prefer_mcts`` (that planner when its answer is valid, else the other);
4. falls back to the rule-based policy when no planner gave a valid answer;
5. passes the action through the :class:`~aither_wm.control.guard.SafetyGuard`; a refused action
   is not executed, and the next best plan's first action (the other planners', by predicted
   cost) is tried instead (when none is admitted, the refusal stands and nothing runs);
6. executes it through the executor unless in dry-run mode (an executor error is audited);
7. appends one record with all of the above to the audit log.

Two memories make the planners guard-aware and keep them from repeating a mistake
(``mask_guarded``, ``failed_action_penalty``): every request leaves out the actions the guard would
refuse now (cooldown, rate and blast-radius limits), and an executed action whose target still
looks broken ``recovery_steps`` later (the runbook's symptom test) costs ``failed_action_penalty``
more in every later request of the same incident (until nothing looks broken).

Nothing here imports Ray; the controller is the same object in a test and in ``ControllerActor``.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from aither_wm.config import FrozenConfig
from aither_wm.control.audit import AuditLog
from aither_wm.control.executor import Executor
from aither_wm.control.guard import GuardConfig, GuardVerdict, SafetyGuard
from aither_wm.control.planners import Dispatcher, PlanOutcome, PlanRequest
from aither_wm.control.policies import Policy, ReactivePolicy
from aither_wm.errors import AitherError
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, ActionType, MeshState

__all__ = ["AutohealController", "ControlDecision", "ControllerConfig"]

PickPolicy = Literal["lowest_cost", "prefer_cem", "prefer_mcts"]


class ControllerConfig(FrozenConfig):
    """Settings of :class:`AutohealController`."""

    deadline_ms: float = Field(default=1000.0, gt=0.0)
    """Longest wait for the planners' answers in one decision, milliseconds."""
    search_fraction: float = Field(default=0.7, gt=0.0, le=1.0)
    """Fraction of ``deadline_ms`` given to the planners as their own search budget (the rest
    covers encoding, transport and the final evaluation)."""
    pick: PickPolicy = "lowest_cost"
    """How to choose between valid plans."""
    preference: tuple[str, ...] = ("cem", "mcts")
    """Order that breaks cost ties (``lowest_cost``)."""
    min_improvement: float = Field(default=0.0, ge=0.0)
    """Act only when the chosen plan's predicted cost beats waiting (H no-ops) by this much;
    otherwise wait. 0 trusts the planner (it already weighs no-op against acting). With
    ``anchor_runbook``: the gain needed to replace the runbook's proposed action."""
    min_improvement_runbook: float | None = Field(default=None, ge=0.0)
    """With ``anchor_runbook``, when the plan agrees with the runbook's proposed action: the gain
    over waiting that action must still be predicted to have, else wait (a veto of the rules'
    action the model expects to be useless); None: the runbook's action is kept."""
    min_improvement_wait: float | None = Field(default=None, ge=0.0)
    """The gain over waiting needed to act where there is nothing to replace (the runbook
    proposes no-op, or no anchor); None: ``min_improvement``. Acting where the rules see nothing
    wrong is the riskier deviation (a fault-free mesh offers a model many chances to be wrong),
    so it gets its own, calibrated, threshold."""
    min_weights_version: int = Field(default=0, ge=0)
    """Plans from older model weights are not used (1: never act on an untrained model)."""
    seed: int = 0
    """Base seed; the seed of a decision is ``seed + state.step`` (the same for every planner)."""
    shed_duplicates: bool = True
    """A state whose step was already decided gets the earlier decision back, not a new one."""
    min_replicas: int = Field(default=1, ge=0)
    """Action validity: scale_in needs more replicas than this (as the planners' bound)."""
    max_replicas: int = Field(default=10, ge=1)
    """Action validity: scale_out needs fewer replicas than this."""
    guard: GuardConfig = GuardConfig()
    """The safety guard's limits (dry run by default)."""
    mask_guarded: bool = True
    """Leave the actions the guard would refuse now out of every plan request."""
    failed_action_penalty: float = Field(default=1.0, ge=0.0)
    """Extra cost, for the rest of the incident, of an executed action whose target still looks
    broken ``recovery_steps`` later (0: off). In the objective's unit (SLO-violation steps for the
    control model's value objective)."""
    recovery_steps: int = Field(default=4, ge=1)
    """Steps after which an action's target should no longer look broken."""
    anchor_runbook: bool = False
    """Price the runbook's proposal ("its action, then wait") in every plan request, and keep it
    unless the chosen plan beats it by ``min_improvement``: the planners then deviate from the
    rules only where their model predicts a gain (never worse than the rules where the model is
    right). Off: the plan is compared with waiting only."""


@dataclass(frozen=True)
class ControlDecision:
    """One decision of the controller (what is audited, as a dataclass).

    Attributes:
        decision_id: unique id (also in the audit record).
        step: the state's step.
        outcomes: each planner's outcome.
        chosen: the planner whose plan was chosen, or ``"fallback"``.
        action: the action the controller decided on (before the guard).
        reason: why this one.
        verdict: the guard's verdict.
        executed: True when the executor ran it without error.
        dry_run: the guard was in dry-run mode.
        agreement: planners agreed on the first action (None if fewer than two valid answers).
        error: the executor's error, if any.
        latency_ms: the whole decision, dispatch to audit.
        duplicate: this was a shed duplicate of an earlier decision.
    """

    decision_id: str
    step: int
    outcomes: dict[str, PlanOutcome]
    chosen: str
    action: Action
    reason: str
    verdict: GuardVerdict
    executed: bool
    dry_run: bool
    agreement: bool | None
    error: str | None
    latency_ms: float
    duplicate: bool = False

    def to_record(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "step": self.step,
            "plans": {n: o.to_dict() for n, o in self.outcomes.items()},
            "chosen": self.chosen,
            "action": {"type": self.action.type.value, "target": self.action.target},
            "reason": self.reason,
            "guard": self.verdict.to_dict(),
            "executed": self.executed,
            "dry_run": self.dry_run,
            "agreement": self.agreement,
            "error": self.error,
            "latency_ms": self.latency_ms,
        }


class AutohealController:
    """Decides and (unless dry-run) acts, one state at a time.

    Args:
        graph: the mesh.
        dispatcher: reaches the planners (``LocalDispatcher`` or ``runtime.ActorDispatcher``).
        executor: carries actions out (only admitted ones, never in dry-run).
        config: settings (guard included).
        audit: where every decision is appended (None: not audited; hosts should pass one).
        fallback: the rule-based policy used when no planner answers validly.
    """

    def __init__(
        self,
        graph: ServiceGraph,
        dispatcher: Dispatcher,
        executor: Executor,
        *,
        config: ControllerConfig | None = None,
        audit: AuditLog | None = None,
        fallback: Policy | None = None,
    ) -> None:
        self.graph = graph
        self.config = config or ControllerConfig()
        self.space = ActionSpace(graph, self.config.min_replicas, self.config.max_replicas)
        self._dispatcher = dispatcher
        self._executor = executor
        self.audit = audit
        self.fallback: Policy = fallback or ReactivePolicy()
        self.guard = SafetyGuard(self.config.guard, num_services=graph.num_services)
        self._reset_next = True
        self._last: ControlDecision | None = None
        self._lock = threading.Lock()
        self.decisions = 0
        self._all_actions = [self.space.action(k) for k in range(self.space.num_actions)]
        self._symptoms = ReactivePolicy()
        self._watch: list[tuple[int, int]] = []  # (flat action, step executed)
        self._penalised: dict[int, float] = {}
        self._anchor: Action | None = None

    def reset_episode(self) -> None:
        """Start a new episode: fresh guard history, planners forget warm starts."""
        with self._lock:
            self.guard = SafetyGuard(self.config.guard, num_services=self.graph.num_services)
            self._reset_next = True
            self._last = None
            self._watch, self._penalised = [], {}

    def decide(self, state: MeshState) -> ControlDecision:
        """Plan, pick, guard, execute and audit one decision for ``state``."""
        with self._lock:
            return self._decide(state)

    def _decide(self, state: MeshState) -> ControlDecision:
        started = time.perf_counter()
        state.check_graph(self.graph)
        cfg = self.config
        if cfg.shed_duplicates and self._last is not None and state.step <= self._last.step:
            last = self._last
            return ControlDecision(
                decision_id=last.decision_id,
                step=last.step,
                outcomes=last.outcomes,
                chosen=last.chosen,
                action=last.action,
                reason=f"duplicate of step {last.step}: shed",
                verdict=last.verdict,
                executed=False,
                dry_run=last.dry_run,
                agreement=last.agreement,
                error=None,
                latency_ms=(time.perf_counter() - started) * 1e3,
                duplicate=True,
            )
        decision_id = uuid.uuid4().hex[:16]
        self._remember(state)
        blocked = (
            tuple(self.guard.refused(self._all_actions, state.step)) if cfg.mask_guarded else ()
        )
        anchor = None
        if cfg.anchor_runbook:
            proposal = self._symptoms.decide(self.graph, state)
            k = self.space.index(proposal)
            anchor = k if k not in blocked else 0
        self._anchor = self.space.action(anchor) if anchor is not None else None
        request = PlanRequest(
            state=state,
            seed=cfg.seed + state.step,
            deadline_ms=cfg.deadline_ms * cfg.search_fraction,
            reset=self._reset_next,
            request_id=decision_id,
            blocked=blocked,
            penalties=tuple(sorted(self._penalised.items())),
            anchor=anchor,
        )
        self._reset_next = False
        try:
            outcomes = self._dispatcher.dispatch(request, cfg.deadline_ms / 1e3)
        except Exception as e:  # the transport itself failed: every planner counts as failed
            why = f"dispatch failed: {type(e).__name__}: {e}"[:300]
            outcomes = {n: PlanOutcome(n, "error", error=why) for n in self._dispatcher.names}
        outcomes = self._validate(outcomes, state)
        chosen, action, reason, agreement = self._pick(outcomes, state)
        verdict = self.guard.admit(action, state.step)
        if not verdict.allowed:
            alt = self._next_best(outcomes, action, reason, verdict, state)
            if alt is not None:  # else the refusal stands: nothing is executed
                action, reason, verdict = alt
        executed, error = False, None
        if verdict.allowed and action.type is not ActionType.noop and not cfg.guard.dry_run:
            try:
                self._executor.execute(action)
                executed = True
            except Exception as e:  # the executor is the host's; audit and carry on
                error = f"{type(e).__name__}: {e}"[:300]
        if verdict.allowed and action.type is not ActionType.noop:
            self._watch.append((self.space.index(action), state.step))
        decision = ControlDecision(
            decision_id=decision_id,
            step=state.step,
            outcomes=outcomes,
            chosen=chosen,
            action=action,
            reason=reason,
            verdict=verdict,
            executed=executed,
            dry_run=cfg.guard.dry_run,
            agreement=agreement,
            error=error,
            latency_ms=(time.perf_counter() - started) * 1e3,
        )
        if self.audit is not None:
            self.audit.append({"graph": self.graph.name, **decision.to_record()})
        self._last = decision
        self.decisions += 1
        return decision

    def _remember(self, state: MeshState) -> None:
        """Penalise watched actions whose target still looks broken; forget when nothing does."""
        pen = self.config.failed_action_penalty
        broken = {
            n for n in self.graph.services if self._symptoms.remedy(state.services[n]) is not None
        }
        if not broken:
            self._watch, self._penalised = [], {}
            return
        keep = []
        for k, step in self._watch:
            if state.step - step < self.config.recovery_steps:
                keep.append((k, step))
            elif pen > 0 and self._all_actions[k].target in broken:
                self._penalised[k] = self._penalised.get(k, 0.0) + pen
        self._watch = keep

    def _next_best(
        self,
        outcomes: dict[str, PlanOutcome],
        refused: Action,
        reason: str,
        verdict: GuardVerdict,
        state: MeshState,
    ) -> tuple[Action, str, GuardVerdict] | None:
        """The first action the guard admits among the other planners' first actions (by
        predicted cost), or None; the refusal stays in the reason."""
        why = f"{reason}; guard refused {refused} ({'; '.join(verdict.reasons)})"
        ok = sorted(
            (o.reply for o in outcomes.values() if o.status == "ok" and o.reply is not None),
            key=lambda r: r.cost,
        )
        for r in ok:
            alt = self.space.action(r.first_action)
            if alt == refused or alt.type is ActionType.noop:
                continue
            v = self.guard.admit(alt, state.step)
            if v.allowed:
                return alt, f"{why}: next best {alt} ({r.planner})", v
        return None

    def _validate(
        self, outcomes: dict[str, PlanOutcome], state: MeshState
    ) -> dict[str, PlanOutcome]:
        """Turn answers the controller cannot use into errors (a planner cannot slip one past)."""
        mask = self.space.mask(state)
        out = {}
        for n, o in outcomes.items():
            r = o.reply
            if o.status == "ok" and r is not None:
                problem = None
                if not isinstance(r.first_action, int) or not 0 <= r.first_action < mask.shape[0]:
                    problem = (
                        f"first action {r.first_action!r} is out of range [0, {mask.shape[0]})"
                    )
                elif not bool(mask[r.first_action]):
                    shown = self.space.action(r.first_action)
                    problem = f"first action {r.first_action} ({shown}) is masked"
                elif not (isinstance(r.cost, float) and math.isfinite(r.cost)):
                    problem = f"cost {r.cost!r} is not finite"
                elif r.weights_version < self.config.min_weights_version:
                    problem = (
                        f"weights v{r.weights_version} are older than min_weights_version "
                        f"{self.config.min_weights_version}"
                    )
                if problem is not None:
                    o = PlanOutcome(
                        n,
                        "error",
                        reply=r,
                        error=f"invalid plan: {problem}",
                        round_trip_ms=o.round_trip_ms,
                    )
            out[n] = o
        return out

    def _pick(
        self, outcomes: dict[str, PlanOutcome], state: MeshState
    ) -> tuple[str, Action, str, bool | None]:
        cfg = self.config
        ok = {n: o.reply for n, o in outcomes.items() if o.status == "ok" and o.reply is not None}
        firsts = {r.first_action for r in ok.values()}
        agreement = (len(firsts) == 1) if len(ok) >= 2 else None
        if not ok:
            why = "; ".join(
                f"{n}: {o.status}" + (f" ({o.error})" if o.error else "")
                for n, o in outcomes.items()
            )
            try:
                action = self.fallback.decide(self.graph, state)
            except Exception as e:  # a policy choking on a malformed state must not stop us
                err = str(e) if isinstance(e, AitherError) else f"{type(e).__name__}: {e}"
                return (
                    "fallback",
                    Action.noop(),
                    f"no valid plan ({why}); fallback failed: {err}"[:600],
                    None,
                )
            return (
                "fallback",
                action,
                f"no valid plan ({why or 'no planners'}): rule-based fallback",
                None,
            )
        rank = {n: i for i, n in enumerate(cfg.preference)}
        if cfg.pick == "lowest_cost":
            newest = max(r.weights_version for r in ok.values())
            pool = {n: r for n, r in ok.items() if r.weights_version == newest}
            name = min(pool, key=lambda n: (pool[n].cost, rank.get(n, len(rank)), n))
            others = ", ".join(f"{n} {r.cost:.4g}" for n, r in sorted(ok.items()) if n != name)
            reason = (
                f"lowest predicted cost ({name} {pool[name].cost:.4g}"
                + (f" vs {others}" if others else "")
                + ")"
            )
            if len(pool) < len(ok):
                reason += f"; only plans from the newest weights (v{newest}) compared"
        else:
            want = cfg.pick.removeprefix("prefer_")
            if want in ok:
                name, reason = want, f"{cfg.pick}"
            else:
                name = min(ok, key=lambda n: (rank.get(n, len(rank)), n))
                status = outcomes[want].status if want in outcomes else "absent"
                reason = f"{cfg.pick}, but {want} gave no valid plan ({status}): {name}"
        reply = ok[name]
        action = self.space.action(reply.first_action)
        if reply.anchor_cost is not None and math.isfinite(reply.anchor_cost):
            anchor = self._anchor
            if anchor is not None and anchor.type is not ActionType.noop and anchor == action:
                veto = cfg.min_improvement_runbook
                gain = reply.noop_cost - reply.cost
                if veto is not None and gain < veto:
                    reason += (
                        f"; the runbook's {anchor}, predicted gain {gain:.4g} < {veto:.4g}: wait"
                    )
                    return name, Action.noop(), reason, agreement
                return name, action, reason + "; the runbook's proposal", agreement
            if anchor is not None and anchor.type is not ActionType.noop:
                gain = reply.anchor_cost - reply.cost
                if gain < cfg.min_improvement:
                    reason += f"; predicted gain over the runbook's {anchor} {gain:.4g} < min_improvement: runbook"
                    return name, anchor, reason, agreement
                reason += f"; predicted gain over the runbook's {anchor} {gain:.4g}"
                return name, action, reason, agreement
        wait = cfg.min_improvement if cfg.min_improvement_wait is None else cfg.min_improvement_wait
        if action.type is not ActionType.noop and reply.noop_cost - reply.cost < wait:
            reason += f"; predicted gain {reply.noop_cost - reply.cost:.4g} < {wait:.4g}: wait"
            action = Action.noop()
        return name, action, reason, agreement
