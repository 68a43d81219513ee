"""Baselines for the score-function estimators: b may depend on anything but the sample itself.

A :class:`Baseline` has state like an estimator: ``init() -> state``, ``value(state, f)`` gives
the baseline for the K draws of one example (``f`` ``[K]`` or ``[K, T]``, already
``stop_gradient``-ed), ``update(state, values)`` after a batch with per-example objective
values ``values`` ``[B]``. The pure moving-average and leave-one-out arithmetic below is
also what :mod:`rgrad.control_variates` exports for the functional API.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

# ---------------------------------------------------------------- moving average (pure)


class MovingAverageState(NamedTuple):
    """Exponential moving average; `value` is biased towards 0, `decay_prod` fixes that."""

    value: jax.Array  # sum_t (1 - d_t) prod_{s>t} d_s v_t
    decay_prod: jax.Array  # prod_t d_t; 1 before any update
    count: jax.Array  # number of updates


def moving_average_init(shape: Sequence[int] = ()) -> MovingAverageState:
    """An empty moving average of arrays of `shape`."""
    return MovingAverageState(jnp.zeros(shape), jnp.ones(()), jnp.zeros((), jnp.int32))


def moving_average_update(
    state: MovingAverageState, value: jax.Array, decay: float | jax.Array,
) -> MovingAverageState:
    """One step `avg <- decay * avg + (1 - decay) * value`; pure, jittable."""
    value = jax.lax.stop_gradient(value)
    return MovingAverageState(decay * state.value + (1.0 - decay) * value,
                              decay * state.decay_prod, state.count + 1)


def moving_average_value(state: MovingAverageState, zero_debias: bool = True) -> jax.Array:
    """The average; with `zero_debias` divided by 1 - prod(decays) (0 before any update)."""
    if not zero_debias:
        return state.value
    norm = 1.0 - state.decay_prod
    return jnp.where(norm > 0, state.value / jnp.where(norm > 0, norm, 1.0), 0.0)


def stored_debiased_update(
    average: jax.Array, count: jax.Array | int, value: jax.Array, decay: float | jax.Array,
    zero_debias: bool = True,
) -> tuple[jax.Array, jax.Array | int]:
    """The old `optax.monte_carlo` moving average on a `(average, count)` pair; pure, jittable.

    `average <- decay * average + (1 - decay) * value`, then with `zero_debias` divided by
    1 - decay^(count + 1); the stored average is read as is. Unlike the `MovingAverageState`
    debiasing this divides an already-divided average again at every step, so for a constant
    decay d and constant input v the second update gives v / (1 - d^2) (50 v at d = 0.99), not
    v; it is kept for code written against optax. Starts at `(0.0, 0)`.
    """
    new = decay * average + (1.0 - decay) * jax.lax.stop_gradient(value)
    if zero_debias:
        new = new / (1.0 - jnp.power(decay, count + 1))
    return jax.lax.stop_gradient(new), count + 1


# ------------------------------------------------------------------- leave one out (RLOO)


def leave_one_out_baseline(f_values: jax.Array) -> jax.Array:
    """`[K, ...]` -> `[K, ...]`: baseline_i = mean of the other K - 1 values along axis 0.

    Needs K >= 2. Independent of sample i, so `(f_i - baseline_i) * score_i` stays unbiased.
    Trailing axes (e.g. time steps) are kept: each is averaged over the other samples.
    """
    k = f_values.shape[0]
    if k < 2:
        raise ValueError(f"f_values needs at least 2 samples for a leave-one-out baseline, "
                         f"got shape {f_values.shape}; draw num_samples >= 2.")
    return (jnp.sum(f_values, axis=0, keepdims=True) - f_values) / (k - 1)


# ------------------------------------------------------------------------------ objects


class Baseline(abc.ABC):
    name: str = ""
    min_samples: int = 1

    def init(self) -> dict:
        return {}

    @abc.abstractmethod
    def value(self, state: dict, f_values: jax.Array) -> jax.Array:
        """Broadcastable to ``f_values``; independent of each draw it is subtracted from."""

    def update(self, state: dict, values: jax.Array) -> dict:
        del values
        return state


class NoBaseline(Baseline):
    name = "none"

    def value(self, state, f_values):
        return jnp.zeros(())


class MovingAverage(Baseline):
    """b = exponential moving average of past batches' mean objective (Williams 1992).

    ``zero_debias=False`` keeps the plain average (starting at 0), as the VAE always did.
    """

    name = "moving_average"

    def __init__(self, decay: float = 0.99, zero_debias: bool = False):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"baseline_decay={decay} must lie in [0, 1).")
        self.decay, self.zero_debias = decay, zero_debias

    def init(self):
        return {"baseline": moving_average_init()}

    def value(self, state, f_values):
        return moving_average_value(state["baseline"], self.zero_debias)

    def update(self, state, values):
        return {"baseline": moving_average_update(state["baseline"], jnp.mean(values),
                                                     self.decay)}


class LeaveOneOut(Baseline):
    """b_i = mean of the other K - 1 draws of the same example (Kool et al. 2019)."""

    name = "rloo"
    min_samples = 2

    def value(self, state, f_values):
        return leave_one_out_baseline(jax.lax.stop_gradient(f_values))


BASELINES = {b.name: b for b in (NoBaseline, MovingAverage, LeaveOneOut)}


def make_baseline(name: str, decay: float = 0.99, zero_debias: bool = False) -> Baseline:
    if name not in BASELINES:
        raise ValueError(f"baseline={name!r} is unknown; use one of {', '.join(BASELINES)}.")
    if name == "moving_average":
        return MovingAverage(decay, zero_debias)
    return BASELINES[name]()
