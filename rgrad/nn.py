"""Model pieces the experiments share, written once: an MLP, log-densities and KL terms.

The Gaussian KL of mean-field weights is :func:`rgrad.bayes_layers.gaussian_kl`.

Log-densities are summed over the last axis (one value per example) and written in the
numerically plain form the experiments train with; distrax gives the same values (a test
checks) but these keep the experiments' numbers bit-for-bit and vmap without broadcasting
rules.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

LOG2PI = float(np.log(2 * np.pi))


class MLP(nn.Module):
    """Hidden layers of ``features`` with ``activation``, then a linear layer of ``out``."""

    features: tuple[int, ...]
    out: int
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x):
        act = getattr(nn, self.activation)
        for f in self.features:
            x = act(nn.Dense(f)(x))
        return nn.Dense(self.out)(x)


def bernoulli_log_prob(logits: jax.Array, x: jax.Array) -> jax.Array:
    """log Bernoulli(x; sigmoid(logits)) summed over the last axis; [..., D] -> [...]."""
    return jnp.sum(x * logits - jnp.logaddexp(0.0, logits), axis=-1)


def normal_log_prob(z: jax.Array, mu, log_sigma) -> jax.Array:
    """log N(z; mu, exp(log_sigma)^2) summed over the last axis; [..., D] -> [...]."""
    return jnp.sum(-0.5 * ((z - mu) * jnp.exp(-log_sigma)) ** 2 - log_sigma - 0.5 * LOG2PI, -1)


def categorical_kl_to_uniform(logits: jax.Array) -> jax.Array:
    """sum over all but the last axis of KL(softmax(logits) || uniform); [L, K] -> scalar."""
    log_q = jax.nn.log_softmax(logits, axis=-1)
    return jnp.sum(jnp.exp(log_q) * (log_q + math.log(logits.shape[-1])))
