"""Flax layers built on the relaxed distributions of `rgrad.relaxed`.

`ConcreteDropout` (Gal, Hron & Kendall, "Concrete Dropout", 2017): dropout whose keep
probability is a learnable parameter. The hard Bernoulli mask of dropout has no gradient in its
probability, so the mask is a relaxed Bernoulli (binary Concrete) sample at temperature tau,

  m = sigmoid((logit(keep) + L) / tau),  L ~ Logistic(0, 1),   y = x * m / keep,

pathwise-differentiable in the keep probability. tau -> 0 recovers hard {0, 1} masks (the
spike-and-slab of Bernoulli dropout); tau -> infinity gives m -> 1/2 whatever the keep
probability. Train with `concrete_dropout_regularizer` added to the loss (the KL of the
variational Bayesian interpretation): without it the keep probabilities run to 1.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from rgrad.relaxed import RelaxedBernoulli


class ConcreteDropout(nn.Module):
    """Relaxed-Bernoulli dropout of the inputs with a learnable keep probability.

    Attributes:
      temperature: tau of the relaxed Bernoulli masks (the paper uses 0.1).
      init_keep: initial keep probability (1 - dropout rate).
      per_unit: one keep probability per input feature instead of one for the layer.
      deterministic: default of ``__call__``'s ``deterministic`` (identity when True).
      rng_collection: the rng stream of the masks.

    Parameters: ``keep_logit``, the log-odds of keeping a unit, shape [] or [D].
    """

    temperature: float = 0.1
    init_keep: float = 0.9
    per_unit: bool = False
    deterministic: bool | None = None
    rng_collection: str = "dropout"

    @nn.compact
    def __call__(self, x, deterministic: bool | None = None):  # [..., D] -> [..., D]
        init = jnp.log(self.init_keep) - jnp.log1p(-self.init_keep)
        shape = x.shape[-1:] if self.per_unit else ()
        keep_logit = self.param("keep_logit", lambda _, s: jnp.full(s, init, jnp.float32), shape)
        deterministic = nn.merge_param("deterministic", self.deterministic, deterministic)
        if deterministic:
            return x
        mask = RelaxedBernoulli(jnp.broadcast_to(keep_logit, x.shape), self.temperature).sample(
            seed=self.make_rng(self.rng_collection))  # [..., D]
        return x * mask / jax.nn.sigmoid(keep_logit)


def keep_probability(keep_logit: jax.Array) -> jax.Array:
    """The keep probability of a `ConcreteDropout` layer from its ``keep_logit`` parameter."""
    return jax.nn.sigmoid(keep_logit)


def concrete_dropout_regularizer(keep_logit: jax.Array, kernel: jax.Array, *,
                                 weight_regularizer: float, dropout_regularizer: float
                                 ) -> jax.Array:
    """KL regularizer of a `ConcreteDropout` layer feeding a Dense layer of ``kernel`` [D, H].

    Gal et al. (2017), eq. (3) and their reference code:
      weight_regularizer * sum(W^2) / keep  -  dropout_regularizer * D * H(drop),
    with H the Bernoulli entropy of the drop probability (maximal at 1/2). Typical values:
    weight_regularizer = l^2 / N (prior length-scale l), dropout_regularizer = 2 / N for
    N training examples. With a per-unit ``keep_logit`` [D] the terms are summed per unit.
    """
    keep = jax.nn.sigmoid(keep_logit)
    log_keep, log_drop = jax.nn.log_sigmoid(keep_logit), jax.nn.log_sigmoid(-keep_logit)
    entropy = -(keep * log_keep + (1.0 - keep) * log_drop)  # [] or [D]
    d = kernel.shape[0]
    row_sq = jnp.sum(kernel**2, axis=1)  # [D]
    weight_term = weight_regularizer * jnp.sum(row_sq / jnp.broadcast_to(keep, (d,)))
    entropy_term = dropout_regularizer * jnp.sum(jnp.broadcast_to(entropy, (d,)))
    return weight_term - entropy_term
