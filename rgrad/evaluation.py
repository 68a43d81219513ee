"""Evaluation compiled once per run: a task's pure ``evaluate`` jitted and vmapped over members.

Member ``i`` evaluated at ``step`` always gets the key ``fold_in(fold_in(key, step), i)``,
whether it is evaluated alone or with the others, so its numbers do not depend on how many
members the run has. A run with one member calls the unbatched program.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import distributed
from rgrad.members import TrainState
from rgrad.task import Task

Evaluate = Callable[..., dict[str, jax.Array]]  # (params, state, *, key) -> scalar metrics


class MemberEvaluator:
    """``evaluator(ts, key, step) -> [{name: float}] * M`` for one of a task's pure evaluations.

    The wrapped function is traced and compiled once (``traces`` counts it); the step enters
    as a traced int32, so evaluating at another step reuses the program.
    """

    def __init__(self, fn: Evaluate):
        self.traces = 0
        self.calls = 0  # evaluations run (host calls of the compiled program)
        self._order: list[str] = []  # the task's metric order (jit would sort the dict's keys)

        def one(params, state, key):
            self.traces += 1
            out = fn(params, state, key=key)
            self._order = list(out)
            return out

        def single(ts: TrainState, key, step):
            # One member: slice it out inside the program and run the plain, unbatched
            # evaluation, so that a single-member run's numbers are those of the task alone.
            params, state = jax.tree.map(lambda x: x[0], (ts.params, ts.state))
            out = one(params, state, _member_key(key, step, 0))
            return jax.tree.map(lambda v: jnp.asarray(v)[None], out)

        def batched(ts: TrainState, key, step):
            m = ts.step.shape[0]
            keys = jax.vmap(lambda i: _member_key(key, step, i))(jnp.arange(m))
            return jax.vmap(one)(ts.params, ts.state, keys)

        self._single, self._batched = jax.jit(single), jax.jit(batched)

    def __call__(self, ts: TrainState, key: jax.Array, step: int) -> list[dict[str, float]]:
        """Metrics of every member as host floats, in the task's order.

        Args:
          ts: the stacked train state (leaves ``[M, ...]``).
          key: the run's evaluation key.
          step: the step evaluated at (folded into the key).
        """
        self.calls += 1
        m = ts.step.shape[0]
        run = self._single if m == 1 else self._batched
        out = distributed.host_read(run(ts, key, jnp.int32(step)))  # gathered if global
        return [{k: float(np.asarray(out[k])[i]) for k in self._order} for i in range(m)]


def _member_key(key: jax.Array, step: jax.Array, i: jax.Array) -> jax.Array:
    return jax.random.fold_in(jax.random.fold_in(key, step), i)


def member_evaluators(task: Any) -> tuple[MemberEvaluator, MemberEvaluator]:
    """``(evaluate, final_evaluate)`` of ``task``, each compiled on first use.

    A task that keeps the default ``final_evaluate`` (its periodic evaluation) gets the same
    evaluator twice: one program, compiled once, and the loop reuses the last periodic
    evaluation when it was at the final step (same key, same step, same numbers).
    """
    evaluate = MemberEvaluator(task.evaluate)
    if getattr(type(task), "final_evaluate", None) is Task.final_evaluate:
        return evaluate, evaluate
    return evaluate, MemberEvaluator(task.final_evaluate)
