"""Relaxed (continuous) surrogates of discrete distributions, as `distrax.Distribution`s.

distrax has no Concrete / Gumbel-Softmax distribution (distrax issue 122), so these follow
Maddison, Mnih & Teh (2017) and Jang, Gu & Poole (2017):

* `GumbelSoftmax(logits, temperature)`: x = softmax((logits + G) / tau), G ~ Gumbel(0, 1)^K,
  a point in the interior of the (K-1)-simplex with the exact Concrete density.
* `RelaxedBernoulli(logits, temperature)`: y = sigmoid((logits + L) / tau), L ~ Logistic(0, 1),
  the binary Concrete density on (0, 1).

Samples are reparameterized (differentiable in `logits` and `temperature`). With
`straight_through=True` `sample` returns the hard one-hot / {0, 1} value in the forward pass and
the soft sample's gradient in the backward pass; `sample_and_log_prob` then reports the log
density of the underlying soft sample (the hard value has no density).
"""
import math

import distrax
import jax
import jax.numpy as jnp

from rgrad.validation import as_float, batch_shape_of, check_positive

_TAU_HINT = "pass a positive temperature, e.g. 0.5 or jnp.exp(log_tau)"


def straight_through(soft: jax.Array) -> jax.Array:
    """One-hot argmax of `soft` in the forward pass, gradient of `soft` in the backward pass.

    Args:
      soft: Relaxed one-hot sample.  # [..., K]

    Returns:
      hard - stop_gradient(soft) + soft, exactly one-hot in value.  # [..., K]
    """
    hard = jax.nn.one_hot(jnp.argmax(soft, axis=-1), soft.shape[-1], dtype=soft.dtype)
    return hard + (soft - jax.lax.stop_gradient(soft))


def straight_through_binary(soft: jax.Array) -> jax.Array:
    """1[soft > 0.5] in the forward pass, gradient of `soft` in the backward pass.  # [...]"""
    hard = (soft > 0.5).astype(soft.dtype)
    return hard + (soft - jax.lax.stop_gradient(soft))


class _Relaxed(distrax.Distribution):
    """Shared state of the relaxed distributions: logits, temperature, straight-through."""

    def __init__(self, logits, temperature, straight_through: bool, event_ndims: int):
        super().__init__()
        check_positive("temperature", temperature, _TAU_HINT)
        logits, temperature = as_float(logits), as_float(temperature)
        if logits.ndim < event_ndims:
            raise ValueError(f"logits must have shape [..., K] (got {logits.shape}); pass one "
                             "logit per class")
        event = logits.shape[logits.ndim - event_ndims:]
        batch = batch_shape_of(logits=logits[(...,) + (0,) * event_ndims],
                               temperature=temperature)
        self._logits = jnp.broadcast_to(logits, batch + event)
        self._temperature = jnp.broadcast_to(temperature, batch)
        self._straight_through = bool(straight_through)

    @property
    def logits(self) -> jax.Array:
        return self._logits

    @property
    def temperature(self) -> jax.Array:
        return self._temperature


class GumbelSoftmax(_Relaxed):
    """Concrete / Gumbel-Softmax / RelaxedOneHotCategorical distribution.

    Density on the simplex (w.r.t. Lebesgue measure on the first K-1 coordinates):
      p(x) = (K-1)! tau^(K-1) prod_k [pi_k x_k^(-tau-1)] / (sum_i pi_i x_i^(-tau))^K.
    """

    def __init__(self, logits, temperature, straight_through: bool = False):
        """Initializes the distribution.

        Args:
          logits: Unnormalized log class probabilities.  # [*B, K]
          temperature: tau > 0, broadcastable to B; tau -> 0 approaches the categorical.
          straight_through: If True, `sample` returns hard one-hot values with soft gradients.
        """
        super().__init__(logits, temperature, straight_through, event_ndims=1)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._logits.shape[-1:]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._logits.shape[:-1]

    def _log_sample_n(self, key, n):
        shape = (n,) + self._logits.shape
        gumbel = jax.random.gumbel(key, shape, self._logits.dtype)
        tau = jnp.broadcast_to(self._temperature[..., None], shape)
        logits = jnp.broadcast_to(self._logits, shape)
        return jax.nn.log_softmax((logits + gumbel) / tau, axis=-1)  # [n, *B, K]

    def _sample_n(self, key, n):
        soft = jnp.exp(self._log_sample_n(key, n))
        return straight_through(soft) if self._straight_through else soft

    def _sample_n_and_log_prob(self, key, n):
        # Density from log x directly: at small tau, x itself rounds to exact 0s and 1s.
        log_x = self._log_sample_n(key, n)
        soft = jnp.exp(log_x)
        sample = straight_through(soft) if self._straight_through else soft
        return sample, self._log_prob_from_log(log_x)

    def log_prob(self, value: jax.Array) -> jax.Array:
        """Exact Concrete log-density of interior simplex points.  # [..., K] -> [...]"""
        return self._log_prob_from_log(jnp.log(value))

    def _log_prob_from_log(self, log_x):
        k = self._logits.shape[-1]
        shape = jnp.broadcast_shapes(log_x.shape, self._logits.shape)
        log_x = jnp.broadcast_to(log_x, shape)
        tau = jnp.broadcast_to(self._temperature[..., None], shape)
        # Normalizing the logits leaves the density unchanged and keeps the terms O(1).
        logits = jnp.broadcast_to(jax.nn.log_softmax(self._logits, axis=-1), shape)
        # log[(K-1)!] + (K-1) log tau + sum_k (l_k - (tau+1) log x_k) - K lse_i(l_i - tau log x_i)
        return (math.lgamma(k) + (k - 1) * jnp.log(tau[..., 0])
                + jnp.sum(logits - (tau + 1.0) * log_x, axis=-1)
                - k * jax.nn.logsumexp(logits - tau * log_x, axis=-1))


class RelaxedBernoulli(_Relaxed):
    """Binary Concrete distribution on (0, 1).

    Density:
      p(y) = tau pi y^(-tau-1) (1-y)^(-tau-1) / (pi y^(-tau) + (1-y)^(-tau))^2,  pi = e^logits.
    """

    def __init__(self, logits, temperature, straight_through: bool = False):
        """Initializes the distribution.

        Args:
          logits: Log-odds of a 1.  # [*B]
          temperature: tau > 0, broadcastable to B.
          straight_through: If True, `sample` returns {0, 1} values with soft gradients.
        """
        super().__init__(logits, temperature, straight_through, event_ndims=0)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return ()

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._logits.shape

    def _logit_sample_n(self, key, n):
        shape = (n,) + self._logits.shape
        noise = jax.random.logistic(key, shape, self._logits.dtype)
        logits, tau = (jnp.broadcast_to(a, shape) for a in (self._logits, self._temperature))
        return (logits + noise) / tau  # [n, *B]

    def _sample_n(self, key, n):
        soft = jax.nn.sigmoid(self._logit_sample_n(key, n))
        return straight_through_binary(soft) if self._straight_through else soft

    def _sample_n_and_log_prob(self, key, n):
        # Density from the logit: log y and log(1 - y) stay finite when y rounds to 0 or 1.
        z = self._logit_sample_n(key, n)
        soft = jax.nn.sigmoid(z)
        sample = straight_through_binary(soft) if self._straight_through else soft
        return sample, self._log_prob_from_logs(jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z))

    def log_prob(self, value: jax.Array) -> jax.Array:
        """Exact binary Concrete log-density for `value` in (0, 1).  # [...] -> [...]"""
        return self._log_prob_from_logs(jnp.log(value), jnp.log1p(-value))

    def _log_prob_from_logs(self, log_y, log_1my):
        shape = jnp.broadcast_shapes(log_y.shape, self._logits.shape)
        log_y, log_1my = jnp.broadcast_to(log_y, shape), jnp.broadcast_to(log_1my, shape)
        tau, logits = (jnp.broadcast_to(a, shape) for a in (self._temperature, self._logits))
        return (jnp.log(tau) + logits - (tau + 1.0) * (log_y + log_1my)
                - 2.0 * jnp.logaddexp(logits - tau * log_y, -tau * log_1my))
