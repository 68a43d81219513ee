r"""Discrete latents as the discrete estimators see them: independent categoricals or Bernoullis.

Every discrete estimator (:mod:`.discrete`, :mod:`.unbiased`, :mod:`.relaxations`,
:mod:`.rebar`) reads its distribution through :func:`as_discrete`, which accepts these two
classes, distrax's ``OneHotCategorical`` / ``Bernoulli`` (possibly ``Independent``-wrapped)
and returns one of:

* :class:`Categoricals`: logits ``[..., K]``, one-hot samples ``[*sample_shape, ..., K]``;
* :class:`Bernoullis`: logits ``[...]``, samples in {0, 1} of shape ``[*sample_shape, ...]``.

``log_prob`` of one sample is the *sum* over all variables (a scalar), the convention of
:mod:`rgrad.estimators.base`. Samples carry no gradient.
"""

from __future__ import annotations

import distrax
import jax
import jax.numpy as jnp

sg = jax.lax.stop_gradient


class Categoricals:
    """Independent categoricals with ``logits`` [..., K]; samples one-hot [*S, ..., K]."""

    kind = "categorical"

    def __init__(self, logits: jax.Array):
        self.logits = logits

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.logits.shape)

    def sample(self, *, seed, sample_shape=()):
        logits = sg(self.logits)
        shape = tuple(sample_shape) + logits.shape[:-1]
        idx = jax.random.categorical(seed, logits, shape=shape)
        return jax.nn.one_hot(idx, logits.shape[-1], dtype=logits.dtype)

    def log_prob(self, z):  # [..., K] one-hot -> scalar
        return jnp.sum(z * jax.nn.log_softmax(self.logits, axis=-1))

    def probs(self) -> jax.Array:
        return jax.nn.softmax(self.logits, axis=-1)


class Bernoullis:
    """Independent Bernoullis with ``logits`` [...]; samples in {0, 1}, shape [*S, ...]."""

    kind = "bernoulli"

    def __init__(self, logits: jax.Array):
        self.logits = logits

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.logits.shape)

    def sample(self, *, seed, sample_shape=()):
        logits = sg(self.logits)
        u = jax.random.uniform(seed, tuple(sample_shape) + logits.shape, logits.dtype)
        p = jax.nn.sigmoid(logits)[(None,) * len(tuple(sample_shape))]
        return (u < p).astype(logits.dtype)

    def log_prob(self, z):  # [...] in {0, 1} -> scalar
        return jnp.sum(z * jax.nn.log_sigmoid(self.logits)
                       + (1.0 - z) * jax.nn.log_sigmoid(-self.logits))

    def probs(self) -> jax.Array:
        return jax.nn.sigmoid(self.logits)


DiscreteLatents = Categoricals | Bernoullis


def as_discrete(dist) -> DiscreteLatents:
    """``dist`` as :class:`Categoricals` or :class:`Bernoullis` (see module docstring)."""
    if isinstance(dist, Categoricals | Bernoullis):
        return dist
    inner = dist
    while isinstance(inner, distrax.Independent):
        inner = inner.distribution
    if isinstance(inner, distrax.OneHotCategorical):
        return Categoricals(inner.logits)
    if isinstance(inner, distrax.Bernoulli):
        return Bernoullis(inner.logits)
    raise ValueError(
        f"{type(dist).__name__} is not a discrete latent this estimator knows; pass "
        "rgrad.estimators.Categoricals(logits [..., K]) or Bernoullis(logits [...]) "
        "(or distrax.OneHotCategorical / distrax.Bernoulli).")
