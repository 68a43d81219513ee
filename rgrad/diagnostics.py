"""Estimator diagnostics and closed-form references for x ~ N(mean, diag(scale^2)).

Costs are sums over dimensions of one-dimensional terms, so every gradient is per
dimension: `d_mean[i]` is d/dmean_i E[f(x)]. References take `mean`, `scale` `[D]` and a
coefficient `[D]`; `d_log_scale = scale * d_scale`.

Single-sample estimator variances (x = mean + scale eps, delta = mean - k, and for the
score function the other dimensions' share R_i of f, with E[R_i] and E[R_i^2]):

* quadratic f = sum_i (x_i - k_i)^2, pathwise: Var d/dmu = 4 s^2, Var d/ds = 4 (d^2 + 2 s^2).
* quadratic, score function (f eps / s and f (eps^2 - 1) / s):
  Var d/dmu = d^4/s^2 + 14 d^2 + 15 s^2 + (E[R^2] + 2 (d^2 + 3 s^2) E[R]) / s^2,
  Var d/ds  = 2 d^4/s^2 + 60 d^2 + 74 s^2 + (2 E[R^2] + 2 (2 d^2 + 10 s^2) E[R]) / s^2.
* linear f = a . x: pathwise d/dmu is the constant a (variance exactly 0), pathwise
  d/ds_i = a_i eps_i (variance a_i^2); score function with m = a . mean,
  S = sum_j a_j^2 s_j^2: Var d/dmu_i = (m^2 + S) / s_i^2 + a_i^2,
  Var d/ds_i = (2 (m^2 + S) + 8 a_i^2 s_i^2) / s_i^2.

These follow from E eps^{2,4,6,8} = 1, 3, 15, 105 and independence across dimensions.
"""
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

# ---------------------------------------------------------------- costs (one sample [D])


def linear_cost(x: jax.Array, a: jax.Array) -> jax.Array:
    """sum_i a_i x_i."""
    return jnp.sum(a * x)


def quadratic_cost(x: jax.Array, k: jax.Array) -> jax.Array:
    """sum_i (x_i - k_i)^2."""
    return jnp.sum(jnp.square(x - k))


def weighted_quadratic_cost(x: jax.Array, w: jax.Array) -> jax.Array:
    """sum_i w_i x_i^2."""
    return jnp.sum(w * jnp.square(x))


def cos_cost(x: jax.Array, k: jax.Array) -> jax.Array:
    """sum_i cos(k_i x_i)."""
    return jnp.sum(jnp.cos(k * x))


# ------------------------------------------------------------------ closed-form references


class Reference(NamedTuple):
    """E[f] (scalar) and its gradients (each `[D]`) under N(mean, diag(scale^2))."""

    value: jax.Array
    d_mean: jax.Array
    d_scale: jax.Array
    d_log_scale: jax.Array


def _ref(value, d_mean, d_scale, scale) -> Reference:
    return Reference(value, d_mean, d_scale, scale * d_scale)


def linear_reference(a: jax.Array, mean: jax.Array, scale: jax.Array) -> Reference:
    """f = a . x: E f = a . mean, gradient a wrt mean and 0 wrt scale."""
    return _ref(jnp.sum(a * mean), a * jnp.ones_like(mean), jnp.zeros_like(scale), scale)


def quadratic_reference(k: jax.Array, mean: jax.Array, scale: jax.Array) -> Reference:
    """f = sum (x - k)^2: E f = sum (mean - k)^2 + scale^2."""
    delta = mean - k
    value = jnp.sum(jnp.square(delta) + jnp.square(scale))
    return _ref(value, 2.0 * delta, 2.0 * scale, scale)


def weighted_quadratic_reference(w: jax.Array, mean: jax.Array, scale: jax.Array) -> Reference:
    """f = sum w x^2: E f = sum w (mean^2 + scale^2)."""
    value = jnp.sum(w * (jnp.square(mean) + jnp.square(scale)))
    return _ref(value, 2.0 * w * mean, 2.0 * w * scale, scale)


def cos_reference(k: jax.Array, mean: jax.Array, scale: jax.Array) -> Reference:
    """f = sum cos(k x): E cos(k x) = cos(k mean) exp(-k^2 scale^2 / 2)."""
    damp = jnp.exp(-0.5 * jnp.square(k * scale))
    value = jnp.sum(jnp.cos(k * mean) * damp)
    d_mean = -k * jnp.sin(k * mean) * damp
    d_scale = -jnp.square(k) * scale * jnp.cos(k * mean) * damp
    return _ref(value, d_mean, d_scale, scale)


class EstimatorVariances(NamedTuple):
    """Variance of single-sample estimators, per dimension (each `[D]`)."""

    pathwise_mean: jax.Array
    pathwise_scale: jax.Array
    pathwise_log_scale: jax.Array
    score_mean: jax.Array
    score_scale: jax.Array
    score_log_scale: jax.Array


def _variances(pm, ps, sm, ss, scale) -> EstimatorVariances:
    s2 = jnp.square(scale)
    return EstimatorVariances(pm, ps, s2 * ps, sm, ss, s2 * ss)


def quadratic_variances(k: jax.Array, mean: jax.Array, scale: jax.Array) -> EstimatorVariances:
    """Single-sample estimator variances for f = sum (x - k)^2 (formulas in module doc)."""
    d2, s2 = jnp.square(mean - k), jnp.square(scale)
    e_i = d2 + s2  # E (x_i - k_i)^2
    v_i = 4.0 * d2 * s2 + 2.0 * jnp.square(s2)  # Var (x_i - k_i)^2
    e_r = jnp.sum(e_i) - e_i
    e_r2 = (jnp.sum(v_i) - v_i) + jnp.square(e_r)
    score_mean = (jnp.square(d2) / s2 + 14.0 * d2 + 15.0 * s2
                  + (e_r2 + 2.0 * (d2 + 3.0 * s2) * e_r) / s2)
    score_scale = (2.0 * jnp.square(d2) / s2 + 60.0 * d2 + 74.0 * s2
                   + (2.0 * e_r2 + 2.0 * (2.0 * d2 + 10.0 * s2) * e_r) / s2)
    return _variances(4.0 * s2, 4.0 * (d2 + 2.0 * s2), score_mean, score_scale, scale)


def linear_variances(a: jax.Array, mean: jax.Array, scale: jax.Array) -> EstimatorVariances:
    """Single-sample estimator variances for f = a . x (pathwise d/dmean: exactly 0)."""
    s2, a2 = jnp.square(scale), jnp.square(a)
    m2 = jnp.square(jnp.sum(a * mean))
    total = m2 + jnp.sum(a2 * s2)
    pathwise_mean = jnp.zeros_like(scale)
    score_scale = (2.0 * total + 8.0 * a2 * s2) / s2
    return _variances(pathwise_mean, a2 * jnp.ones_like(scale), total / s2 + a2, score_scale,
                      scale)


# ------------------------------------------------------------------------ empirical stats


class Stats(NamedTuple):
    """Per-element statistics of an estimator over independent repeats (pytrees)."""

    mean: Any
    variance: Any
    stderr: Any
    bias: Any
    snr: Any


def jacobian_mean_and_stderr(jacobians: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean over samples and its standard error, `[N, ...]` -> (`[...]`, `[...]`)."""
    n = jacobians.shape[0]
    return jnp.mean(jacobians, axis=0), jnp.std(jacobians, axis=0, ddof=1) / jnp.sqrt(n)


def estimator_stats(
    estimator_fn: Callable[[jax.Array], Any],
    *,
    key: jax.Array,
    num_repeats: int,
    reference: Any = None,
    batch_size: int | None = None,
) -> Stats:
    """Mean, variance, bias and signal-to-noise ratio of a stochastic estimator.

    Args:
        estimator_fn: `estimator_fn(key)` returns one estimate, a pytree of arrays (e.g.
            `lambda k: [j.mean(0) for j in pathwise_jacobians(f, params, b, k, 10)]`).
        key: PRNG key, split into `num_repeats` independent keys.
        num_repeats: number of independent draws R (vmapped and jitted together).
        reference: optional pytree of true values, same structure; bias is None without it.
        batch_size: None vmaps all R draws at once; an int draws them that many at a time
            (``jax.lax.map``), for estimates too large to hold R of in memory (a weight sample
            per example). The draws, and so the statistics, are the same either way.

    Returns:
        `Stats` of pytrees shaped like one estimate: mean, variance (ddof=1), stderr of the
        mean, bias (mean - reference) and snr = |mean| / std.
    """
    keys = jax.random.split(key, num_repeats)
    if batch_size is None:
        draws = jax.jit(jax.vmap(estimator_fn))(keys)
    elif isinstance(batch_size, int) and batch_size >= 1:
        draws = jax.jit(lambda k: jax.lax.map(estimator_fn, k, batch_size=batch_size))(keys)
    else:
        raise ValueError(f"batch_size={batch_size!r}: give a positive int (draws per chunk) "
                         "or None (all draws at once).")
    mean = jax.tree.map(lambda d: jnp.mean(d, axis=0), draws)
    var = jax.tree.map(lambda d: jnp.var(d, axis=0, ddof=1), draws)
    stderr = jax.tree.map(lambda v: jnp.sqrt(v / num_repeats), var)
    snr = jax.tree.map(lambda m, v: jnp.abs(m) / jnp.sqrt(v), mean, var)
    bias = None if reference is None else jax.tree.map(jnp.subtract, mean, reference)
    return Stats(mean, var, stderr, bias, snr)
