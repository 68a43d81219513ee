r"""Straight-through estimators beyond Gumbel-Softmax: Gumbel-Rao and ReinMax; the noise they
share with REBAR and RELAX (:mod:`.rebar`).

A discrete draw is the hard threshold of perturbed logits, b = H(z):

* categorical (logits [..., K]): z = log_softmax(logits) + G, G ~ Gumbel(0, 1)^K,
  b = one_hot(argmax z), relaxed sigma_tau(z) = softmax(z / tau) (the Gumbel-Softmax);
* Bernoulli (logits [...]): z = logits + L, L ~ Logistic(0, 1), b = 1[z > 0], relaxed
  sigma_tau(z) = sigmoid(z / tau) (the Binary Concrete).

:func:`conditional` draws z~ ~ p(z | b) by a reparameterization in the logits (Tucker et al.
2017, appendix; Paulus, Maddison & Krause 2021): with E ~ Exp(1)^K, given b = e_i the maximum
is z~_i = -log E_i (a standard Gumbel, as log_softmax normalises the logits) and each other
coordinate is a Gumbel(log p_k) truncated below it, z~_k = -log(E_k / p_k + E_i). Given a
Bernoulli b, L is a logistic truncated to z > 0 (b = 1) or z < 0 (b = 0); with v ~ U(0, 1),
z~ = softplus(logits + log v) - log(1 - v) for b = 1, and minus that at -logits for b = 0.

Both estimators here are biased (they estimate grad E[f(b)] from f's gradient at b) and serve
``kinds = ("categorical", "bernoulli")``; the temperature (option, default 1) is overridden by
the call's ``temperature=``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rgrad.estimators import base
from rgrad.estimators.latents import as_discrete

sg = jax.lax.stop_gradient


def location(kind: str, logits: jax.Array) -> jax.Array:
    """The logits that the noise perturbs: normalised (log-probabilities) for categoricals."""
    return jax.nn.log_softmax(logits, axis=-1) if kind == "categorical" else logits


def noise(kind: str, key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Gumbel (categorical) or logistic (Bernoulli) noise of ``shape`` = sample + logits shape."""
    return (jax.random.gumbel if kind == "categorical" else jax.random.logistic)(key, shape)


def perturb(kind: str, logits: jax.Array, eps: jax.Array) -> jax.Array:
    """z = location(logits) + eps, differentiable in ``logits``.  # [*S, *logits.shape]"""
    loc = location(kind, logits)
    return jnp.broadcast_to(loc, eps.shape) + eps


def hard(kind: str, z: jax.Array) -> jax.Array:
    """b = H(z): one-hot argmax [..., K] or 1[z > 0] [...], without gradient."""
    z = sg(z)
    if kind == "categorical":
        return jax.nn.one_hot(jnp.argmax(z, axis=-1), z.shape[-1], dtype=z.dtype)
    return (z > 0).astype(z.dtype)


def relax(kind: str, z: jax.Array, temperature) -> jax.Array:
    """sigma_tau(z): softmax(z / tau) over the last axis, or sigmoid(z / tau)."""
    if kind == "categorical":
        return jax.nn.softmax(z / temperature, axis=-1)
    return jax.nn.sigmoid(z / temperature)


def draw(kind: str, logits: jax.Array, key: jax.Array, num_samples: int) -> jax.Array:
    """``num_samples`` hard draws b = H(z) without gradient.  # [K, *logits.shape]"""
    eps = noise(kind, key, (num_samples, *logits.shape))
    return hard(kind, perturb(kind, sg(logits), eps))


def uniforms(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """U(0, 1) draws kept off 0, so that their logs are finite."""
    return jax.random.uniform(key, shape, minval=jnp.finfo(jnp.float32).tiny)


def conditional(kind: str, logits: jax.Array, b: jax.Array, v: jax.Array) -> jax.Array:
    """z~ ~ p(z | b) from uniforms ``v`` (shape of ``b``), differentiable in ``logits``.

    Args:
      kind: "categorical" or "bernoulli".
      logits: [..., K] or [...].
      b: hard draws, one-hot [*S, ..., K] or {0, 1} [*S, ...].
      v: U(0, 1) draws, the shape of ``b``.

    Returns:
      Perturbed logits z~ with H(z~) = b (module docstring).  # shape of b
    """
    loc = jnp.broadcast_to(location(kind, logits), b.shape)
    log_v = jnp.log(v)
    if kind == "categorical":
        log_e = jnp.log(-log_v)  # log E, E ~ Exp(1)
        log_e_top = jnp.sum(b * log_e, axis=-1, keepdims=True)  # [*S, ..., 1]
        top = jnp.broadcast_to(-log_e_top, b.shape)
        rest = -jnp.logaddexp(log_e - loc, jnp.broadcast_to(log_e_top, b.shape))
        return jnp.where(b > 0.5, top, rest)
    above = jax.nn.softplus(loc + log_v) - jnp.log1p(-v)  # > 0
    below = -(jax.nn.softplus(-loc + log_v) - jnp.log1p(-v))  # < 0
    return jnp.where(b > 0.5, above, below)


def _temperature(default: float, temperature) -> jax.Array | float:
    return default if temperature is None else temperature


class GumbelRao(base.Estimator):
    r"""Gumbel-Rao (Paulus, Maddison & Krause 2021, "Rao-Blackwellizing the Straight-Through
    Gumbel-Softmax Gradient Estimator"): f at the hard draw b, and the straight-through
    Gumbel-Softmax gradient averaged over M = ``num_rao_samples`` perturbations drawn given b,

        g = (1/M sum_m d sigma_tau(z~_m) / d logits)^T grad_b f(b),  z~_m ~ p(z | b),

    each Jacobian taken with its noise z~_m - location(logits) held fixed. This is
    E[ST-GS | b] estimated by M draws: the same mean as straight-through Gumbel-Softmax
    (``st_gumbel_softmax``), lower variance; M = 1 is ST-GS in distribution. f's own parameters
    get their gradient at b.
    """

    name = "gumbel_rao"
    kinds = ("categorical", "bernoulli")

    def __init__(self, temperature: float = 1.0, num_rao_samples: int = 10):
        base.check_temperature(temperature)
        if not isinstance(num_rao_samples, int) or num_rao_samples < 1:
            raise ValueError(f"num_rao_samples={num_rao_samples!r} must be a positive int "
                             "(conditional Gumbel draws per sample).")
        self.temperature, self.num_rao_samples = temperature, num_rao_samples

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        self.check(objective=objective, num_samples=num_samples)
        tau = _temperature(self.temperature, temperature)
        latents = as_discrete(dist)
        kind, logits = latents.kind, latents.logits
        k_b, k_v = jax.random.split(key)
        b = draw(kind, logits, k_b, num_samples)  # [K, *event]
        m = self.num_rao_samples
        bs = jnp.broadcast_to(b, (m, *b.shape))  # [M, K, *event]
        z = sg(conditional(kind, logits, bs, uniforms(k_v, bs.shape)))
        loc = jnp.broadcast_to(location(kind, logits), bs.shape)
        soft = jnp.mean(relax(kind, loc + sg(z - loc), tau), axis=0)  # [K, *event]
        value = jnp.mean(f(b + soft - sg(soft)))
        return base.Estimate(value, value)


class ReinMax(base.Estimator):
    r"""ReinMax (Liu, Dong, Liu, Yu & Gao 2023, "Bridging Discrete and Backpropagation:
    Straight-Through and Beyond"): straight-through read as the forward Euler step of
    f(I_i) - f(I_j) ~ grad f(I_j)^T (I_i - I_j); ReinMax takes Heun's (second-order) step.
    With b ~ Cat(pi_0), pi_0 = softmax(logits) (no Gumbel noise) and
    pi_1 = (b + softmax(logits / tau)) / 2, the forward pass is f(b) and

        g = (2 J(pi_1) - J(pi_0) / 2)^T grad_b f(b),  J(p) = diag(p) - p p^T,

    J(p) being the softmax Jacobian at probabilities p. At tau = 1 the trapezoid is exact, so
    the estimate is unbiased, when f is quadratic in each variable given the others (tested in
    tests/test_discrete_relaxed.py); the paper recommends tau >= 1 (any tau > 0 is accepted).
    A Bernoulli is the two-class case with logits (0, l):
    g = (2 q (1 - q) - p (1 - p) / 2) grad_b f(b), p = sigmoid(l), q = (b + sigmoid(l / tau)) / 2.
    """

    name = "reinmax"
    kinds = ("categorical", "bernoulli")

    def __init__(self, temperature: float = 1.0):
        base.check_temperature(temperature)
        self.temperature = temperature

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        self.check(objective=objective, num_samples=num_samples)
        tau = _temperature(self.temperature, temperature)
        latents = as_discrete(dist)
        logits = latents.logits
        b = draw(latents.kind, logits, key, num_samples)  # [K, *event]
        lg = jnp.broadcast_to(logits, b.shape)
        scaled = sg(lg) / tau
        if latents.kind == "categorical":
            # log pi_1, stably: log(1 + s) at b's class, log s elsewhere, minus log 2.
            s = jax.nn.softmax(scaled, axis=-1)
            log_pi1 = jnp.where(b > 0.5, jnp.log1p(s), jax.nn.log_softmax(scaled, axis=-1))
            # softmax(lg + const) equals pi_1 with Jacobian J(pi_1) in lg.
            p1 = jax.nn.softmax(lg + sg(log_pi1 - jnp.log(2.0) - lg), axis=-1)
            p0 = jax.nn.softmax(lg, axis=-1)
        else:
            # logit q: log(1 + s) - log(1 - s) if b = 1, log s - log(2 - s) if b = 0.
            s = jax.nn.sigmoid(scaled)
            logit_q = jnp.where(b > 0.5, jnp.log1p(s) - jax.nn.log_sigmoid(-scaled),
                                jax.nn.log_sigmoid(scaled) - jnp.log(2.0 - s))
            p1 = jax.nn.sigmoid(lg + sg(logit_q - lg))
            p0 = jax.nn.sigmoid(lg)
        slope = 2.0 * p1 - 0.5 * p0
        value = jnp.mean(f(b + slope - sg(slope)))
        return base.Estimate(value, value)


REGISTERED: tuple = (GumbelRao, ReinMax)
__all__ = ["GumbelRao", "REGISTERED", "ReinMax", "conditional", "draw", "hard", "location", "noise",
           "perturb", "relax", "uniforms"]
