r"""ARM and DisARM: antithetic, unbiased estimators for Bernoulli latents.

Both draw one uniform vector u ``[*shape]`` per pair and evaluate ``f`` at the antithetic pair

    b = 1[u < sigmoid(logits)],    b~ = 1[1 - u < sigmoid(logits)] = 1[u > sigmoid(-logits)],

each distributed as Bernoulli(sigmoid(logits)) (but coupled), in ONE call of ``f`` on the
``2 K`` stacked draws. ``num_samples`` counts pairs. The estimators differ in the weight of the
difference f(b~) - f(b) (per variable, the same difference for every variable of one pair):

* ARM (Yin & Zhou 2019, "ARM: Augment-REINFORCE-Merge gradient"):
  g = (f(b~) - f(b)) (u - 1/2).
* DisARM (Dong, Mnih & Tucker 2020, "DisARM: an antithetic gradient estimator for binary
  latent variables"), ARM with u integrated out given (b, b~):
  g = 1/2 (f(b) - f(b~)) (-1)^{b~} 1[b != b~] sigmoid(|logits|),
  zero whenever the pair agrees; never more variance than ARM.

The surrogate's value is the mean of f over all 2 K draws, so f's own parameters get the
average of their gradients at both draws; the logits get mean_pairs g through a zero-valued
linear term.
"""

from __future__ import annotations

import abc

import jax
import jax.numpy as jnp

from rgrad.estimators import base
from rgrad.estimators.latents import Bernoullis, as_discrete

sg = jax.lax.stop_gradient


def linear_term(g: jax.Array, logits: jax.Array) -> jax.Array:
    """Scalar 0 in value whose gradient w.r.t. ``logits`` (same shape as ``g``) is ``g``."""
    return jnp.sum(sg(g) * (logits - sg(logits)))


def bernoullis(dist, name: str) -> Bernoullis:
    """``dist`` as :class:`Bernoullis`, or a one-line ValueError for other latents."""
    latents = as_discrete(dist)
    if latents.kind != "bernoulli":
        raise ValueError(f"estimator={name!r} serves Bernoulli latents only, not "
                         f"{latents.kind} ones; use estimator='indecater' or 'rloo' there.")
    return latents


def _per_pair(diff: jax.Array, ndim: int) -> jax.Array:
    """[K] -> [K, 1, ..., 1] broadcastable against per-variable arrays [K, *shape]."""
    return diff.reshape(diff.shape + (1,) * ndim)


class _Antithetic(base.Estimator):
    kinds = ("bernoulli",)

    @abc.abstractmethod
    def weights(self, f_b, f_tilde, b, b_tilde, u, logits) -> jax.Array:
        """Per-pair gradient estimates ``[K, *shape]`` w.r.t. ``logits`` ``[*shape]``,
        from ``f`` at b and b~ ``[K]`` and the draws ``[K, *shape]``."""

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        self.check(objective=objective, num_samples=num_samples)
        logits = bernoullis(dist, self.name).logits  # [*shape]
        lg = sg(logits)
        u = jax.random.uniform(key, (num_samples, *lg.shape), lg.dtype)  # [K, *shape]
        p = jax.nn.sigmoid(lg)[None]  # [1, *shape]
        b = (u < p).astype(lg.dtype)
        b_tilde = (1.0 - u < p).astype(lg.dtype)
        f_all = base.totals(f(jnp.concatenate([b, b_tilde], axis=0)))  # [2K], one call
        f_b, f_tilde = f_all[:num_samples], f_all[num_samples:]
        g = self.weights(sg(f_b), sg(f_tilde), b, b_tilde, u, lg)  # [K, *shape]
        value = jnp.mean(f_all)
        return base.Estimate(value + linear_term(jnp.mean(g, axis=0), logits), value)


class ARM(_Antithetic):
    """ARM (Yin & Zhou 2019): g = (f(b~) - f(b)) (u - 1/2), one antithetic pair per sample."""

    name = "arm"

    def weights(self, f_b, f_tilde, b, b_tilde, u, logits):
        return _per_pair(f_tilde - f_b, logits.ndim) * (u - 0.5)


class DisARM(_Antithetic):
    """DisARM (Dong, Mnih & Tucker 2020):
    g = 1/2 (f(b) - f(b~)) (-1)^{b~} 1[b != b~] sigmoid(|logits|)."""

    name = "disarm"

    def weights(self, f_b, f_tilde, b, b_tilde, u, logits):
        sign = 1.0 - 2.0 * b_tilde  # (-1)^{b~}
        disagree = (b != b_tilde).astype(logits.dtype)
        return (0.5 * _per_pair(f_b - f_tilde, logits.ndim) * sign * disagree
                * jax.nn.sigmoid(jnp.abs(logits))[None])
