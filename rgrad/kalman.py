"""Exact marginal likelihood of a scalar linear-Gaussian state-space model (Kalman filter).

    z_0 ~ N(m0, p0),   z_t = a z_{t-1} + b + s eps_t,   x_t = h z_t + r eta_t,   t = 1..T,

eps_t, eta_t ~ N(0, 1). :func:`log_likelihood` returns log p(x_{1:T}) by the prediction-error
decomposition, sum_t log N(x_t; h m_{t|t-1}, h^2 P_{t|t-1} + r^2), in one ``lax.scan``;
differentiable in every parameter (e.g. ``jax.hessian`` for the Fisher information).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rgrad.nn import LOG2PI


def log_likelihood(x: jax.Array, a, b, s, r, *, h=1.0, m0=0.0, p0=0.0) -> jax.Array:
    """log p(x) for one sequence x [T]; scalar parameters."""

    def step(carry, xt):
        m, p = carry
        mp, pp = a * m + b, a * a * p + s * s  # predict
        v = h * h * pp + r * r  # innovation variance
        e = xt - h * mp
        ll = -0.5 * (LOG2PI + jnp.log(v) + e * e / v)
        k = pp * h / v  # update
        return (mp + k * e, (1.0 - k * h) * pp), ll

    init = (jnp.asarray(m0, x.dtype), jnp.asarray(p0, x.dtype))
    _, ll = jax.lax.scan(step, init, x)
    return jnp.sum(ll)


def sample(key: jax.Array, num: int, length: int, a, b, s, r, *, h=1.0, z0=0.0
           ) -> tuple[jax.Array, jax.Array]:
    """``num`` sequences of the model from z_0 = z0: (z [num, T], x [num, T])."""
    k1, k2 = jax.random.split(key)
    eps = jax.random.normal(k1, (length, num))
    eta = jax.random.normal(k2, (length, num))

    def step(z, e):
        z = a * z + b + s * e
        return z, z

    _, z = jax.lax.scan(step, jnp.full((num,), z0, jnp.float32), eps)  # [T, num]
    return z.T, (h * z + r * eta).T
