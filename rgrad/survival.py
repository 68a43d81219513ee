"""Censored log-normal survival likelihood, and a Monte Carlo gradient of it.

Model: log T = mu + sigma * eps, eps ~ N(0, 1) (a log-normal accelerated-failure-time model
when mu depends on covariates). A subject observed to fail at t contributes the density
log p(t) = log N(log t; mu, sigma) - log t; a subject censored at c contributes the survival
log S(c) = log P(T > c) = log Phi(-(log c - mu) / sigma).

A pathwise derivative of S = E[1{mu + sigma eps > log c}] is zero almost surely (the indicator
is flat), so the reparameterized sample enters differently: the censored subject's unobserved
log-time is *imputed* by a reparameterized draw from the truncated normal above log c
(inverse-CDF transform of a uniform), and the Fisher identity
    grad log S(c) = E_{y ~ p(y | y > log c)} [grad log p(y)]
turns the complete-data score at the imputed time into an unbiased estimate of the censored
term's gradient. Its variance is zero for observed failures and grows with the fraction of
censored subjects -- the point of the survival experiment.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr, ndtri

HALF_LOG2PI = 0.5 * float(np.log(2 * np.pi))


def lognormal_loglik(log_t: jax.Array, event: jax.Array, mu: jax.Array, sigma: jax.Array
                     ) -> jax.Array:
    """Exact censored log-likelihood per subject; all arguments [N] (or broadcast) -> [N]."""
    z = (log_t - mu) / sigma
    density = -0.5 * z**2 - jnp.log(sigma) - HALF_LOG2PI - log_t
    return jnp.where(event, density, log_ndtr(-z))


def truncated_normal_above(mu: jax.Array, sigma: jax.Array, lower: jax.Array, *,
                           key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
    """Reparameterized draw of N(mu, sigma^2) conditioned on > lower (elementwise, [N]).

    eps = -Phi^{-1}(v * Phi(-a)) with v ~ U(0, 1) and a = (lower - mu) / sigma has
    P(eps > x) = Phi(-x) / Phi(-a) for x >= a: the upper tail, sampled without rejection.
    ``sample_shape`` prepends independent draws: ``[*sample_shape, N]``.
    """
    a = (lower - mu) / sigma
    shape = (*sample_shape, *jnp.shape(a))
    a, mu, sigma = (jnp.broadcast_to(t, shape) for t in (a, mu, sigma))
    v = jax.random.uniform(key, shape, minval=1e-7, maxval=1.0)
    eps = -ndtri(v * jnp.exp(log_ndtr(-a)))
    return mu + sigma * jnp.maximum(eps, a)  # the max only guards float round-off


def complete_data_log_density(y: jax.Array, mu: jax.Array, sigma: jax.Array) -> jax.Array:
    """log N(y; mu, sigma) of (imputed) log-times, elementwise; the Fisher identity's f."""
    z = (y - mu) / sigma
    return -0.5 * z**2 - jnp.log(sigma) - HALF_LOG2PI


class ImputedLogTimes:
    """p(log T | data; mu, sigma): the observed log-time for a failure, the truncated normal
    above the censoring log-time otherwise; ``[*sample_shape, N]`` draws.

    The distribution :class:`rgrad.estimators.Imputation` holds fixed (``stop_gradient``).
    """

    def __init__(self, log_t: jax.Array, event: jax.Array, mu: jax.Array, sigma: jax.Array):
        self.log_t, self.event, self.mu, self.sigma = log_t, event, mu, sigma

    def sample(self, *, seed: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        y = truncated_normal_above(self.mu, self.sigma, self.log_t, key=seed,
                                   sample_shape=tuple(sample_shape))
        return jnp.where(jnp.broadcast_to(self.event, y.shape),
                         jnp.broadcast_to(self.log_t, y.shape), y)


def imputation_surrogate(log_t: jax.Array, event: jax.Array, mu: jax.Array, sigma: jax.Array,
                         *, key: jax.Array) -> jax.Array:
    """[N] surrogate whose gradient is an unbiased estimate of grad lognormal_loglik.

    Failures contribute their exact log density; censored subjects the complete-data log
    density at an imputed log-time held fixed (stop_gradient: the Fisher identity).
    The *value* is not the log-likelihood; report :func:`lognormal_loglik` instead.
    """
    y = jax.lax.stop_gradient(ImputedLogTimes(log_t, event, mu, sigma).sample(seed=key))
    return complete_data_log_density(y, mu, sigma)
