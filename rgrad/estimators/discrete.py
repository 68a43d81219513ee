r"""Estimators for discrete latents: relaxations and the hybrid of a mixture.

Relaxed estimators take a categorical (one-hot, ``[..., K]`` logits) or Bernoulli
distribution, or its logits, and evaluate ``f`` on relaxed samples at ``temperature``
(Jang, Gu & Poole 2017; Maddison, Mnih & Teh 2017); the straight-through variants evaluate
``f`` on the hard sample and differentiate through the soft one. The score function of
:mod:`rgrad.estimators.continuous` serves discrete distributions unchanged.
"""

from __future__ import annotations

import abc

import jax

from rgrad import relaxed
from rgrad.estimators import base
from rgrad.estimators.continuous import ScoreFunction
from rgrad.estimators.latents import as_discrete

sg = jax.lax.stop_gradient


def logits_of(dist) -> jax.Array:
    """The logits of a (possibly ``Independent``-wrapped) distrax categorical/Bernoulli."""
    if isinstance(dist, jax.Array):
        return dist
    inner = getattr(dist, "distribution", dist)
    return inner.logits


def relaxation_of(dist, default: type) -> type:
    """The relaxed distribution for ``dist``: Binary Concrete for Bernoulli latents,
    Gumbel-Softmax for categorical ones; ``default`` for bare logits."""
    try:
        kind = as_discrete(dist).kind
    except ValueError:  # bare logits or another object with .logits
        return default
    return relaxed.RelaxedBernoulli if kind == "bernoulli" else relaxed.GumbelSoftmax


class _Relaxed(base.Estimator):
    kinds = ("categorical", "bernoulli")
    relaxation: type
    straight_through: bool = False

    def __init__(self, temperature: float = 1.0):
        base.check_temperature(temperature)
        self.temperature = temperature

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        tau = self.temperature if temperature is None else temperature
        relaxation = relaxation_of(dist, self.relaxation)
        soft = relaxation(logits_of(dist), tau, straight_through=self.straight_through)
        value = base.reduce(f(soft.sample(seed=key, sample_shape=num_samples)), "mean")
        return base.Estimate(value, value)


class GumbelSoftmax(_Relaxed):
    """f at z = softmax((logits + Gumbel) / tau): biased for the discrete model, low variance.

    On Bernoulli latents this is the Binary Concrete, z = sigmoid((logits + Logistic) / tau).
    """

    name = "gumbel_softmax"
    relaxation = relaxed.GumbelSoftmax


class STGumbelSoftmax(GumbelSoftmax):
    """Straight-through: f at the hard one-hot argmax, the gradient of the soft sample."""

    name = "st_gumbel_softmax"
    straight_through = True


class RelaxedBernoulli(_Relaxed):
    """Binary Concrete: f at sigmoid((logits + Logistic) / tau)."""

    name = "relaxed_bernoulli"
    kinds = ("bernoulli",)  # gumbel_softmax's name for Bernoulli latents
    relaxation = relaxed.RelaxedBernoulli


class STRelaxedBernoulli(RelaxedBernoulli):
    name = "st_relaxed_bernoulli"
    straight_through = True


class HybridDistribution(abc.ABC):
    """A hierarchical draw: a discrete choice (score function), then a reparameterized rest.

    ``sample(seed, sample_shape)`` returns draws that are differentiable given the discrete
    choice (which carries no gradient); ``log_prob(z)`` is the joint log density, and
    ``discrete_log_prob(z)`` the log-probability of the discrete choice alone.
    """

    @abc.abstractmethod
    def sample(self, *, seed, sample_shape): ...

    @abc.abstractmethod
    def log_prob(self, value) -> jax.Array: ...

    @abc.abstractmethod
    def discrete_log_prob(self, value) -> jax.Array: ...


class Hybrid(ScoreFunction):
    """Score function for the discrete choice, pathwise for the continuous draw given it."""

    name = "hybrid"
    kinds = ()  # a HybridDistribution, not plain discrete latents

    def __call__(self, f, dist: HybridDistribution, *, key, num_samples=1, state=None,
                 objective="mean", temperature=None, params=None):
        z = dist.sample(seed=key, sample_shape=(num_samples,))
        f_values = f(z)
        surrogate = self.from_samples(f_values, jax.vmap(dist.discrete_log_prob)(z), state)
        return base.Estimate(surrogate, base.reduce(f_values, "mean"))
