"""Bayesian layers with factorized Gaussian weight posteriors (Kingma, Salimans & Welling 2015).

Each weight has q(w) = N(m, s^2), s = exp(log_s); biases are point estimates. Three ways of
drawing the layer's random output, chosen by ``mode`` (the same parameters serve all three):

* ``"local"`` -- the local reparameterization trick: sample the pre-activation itself,
  y = m^T x + sqrt((x^2)^T s^2) * eps, one eps per example and output unit. For a
  convolution the variance is conv(x^2, s^2), computed exactly.
* ``"shared"`` -- one weight sample per minibatch, W = m + s * eps, shared by every example
  (the cheap but high-variance estimator).
* ``"per_example"`` -- a separate weight sample for every example (vmapped).

The noise comes from the ``"noise"`` RNG stream (``apply(..., rngs={"noise": key})``); with
``deterministic=True`` the layer uses the posterior mean. Inputs carry a leading batch axis.
:func:`kl_to_prior` sums KL(q || N(0, prior_std^2)) over every Bayesian layer in a params tree.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

MODES = ("local", "shared", "per_example")


def _b(bias: jax.Array, ndim: int) -> jax.Array:
    """The bias shaped to broadcast over the leading axes (rank promotion made explicit)."""
    return bias.reshape((1,) * (ndim - 1) + bias.shape)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is unknown; use one of {', '.join(MODES)}.")


def gaussian_kl(mean: jax.Array, log_std: jax.Array, prior_std: float) -> jax.Array:
    """Sum of KL(N(mean, exp(log_std)^2) || N(0, prior_std^2)) over all elements (scalar)."""
    var_ratio = jnp.exp(2 * log_std) / prior_std**2
    return 0.5 * jnp.sum(var_ratio + (mean / prior_std) ** 2 - 1.0 - jnp.log(var_ratio))


def kl_to_prior(params, prior_std: float) -> jax.Array:
    """KL of every ``(kernel_mean, kernel_log_std)`` pair in a params tree to the prior."""
    total = jnp.zeros(())
    if isinstance(params, dict) or hasattr(params, "items"):
        if "kernel_mean" in params:
            total = total + gaussian_kl(params["kernel_mean"], params["kernel_log_std"],
                                        prior_std)
        for k, v in params.items():
            if k not in ("kernel_mean", "kernel_log_std"):
                total = total + kl_to_prior(v, prior_std)
    return total


class _Bayes(nn.Module):
    """Shared parameter creation: kernel mean/log-std and a point-estimated bias."""

    def kernel_params(self, shape, fan_in, init_log_std):
        mean = self.param("kernel_mean", nn.initializers.normal(1.0 / jnp.sqrt(fan_in)), shape)
        log_std = self.param("kernel_log_std", nn.initializers.constant(init_log_std), shape)
        return mean, log_std


class BayesDense(_Bayes):
    """Dense layer ``[B, D_in] -> [B, features]`` with a factorized Gaussian weight posterior."""

    features: int
    mode: str = "local"
    init_log_std: float = -5.0

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = False) -> jax.Array:
        _check_mode(self.mode)
        d_in = x.shape[-1]
        mean, log_std = self.kernel_params((d_in, self.features), d_in, self.init_log_std)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        if deterministic:
            return x @ mean + _b(bias, x.ndim)
        std = jnp.exp(log_std)
        key = self.make_rng("noise")
        if self.mode == "local":
            mu = x @ mean  # [B, F]
            var = (x * x) @ (std * std)  # [B, F]
            eps = jax.random.normal(key, mu.shape, mu.dtype)
            return mu + jnp.sqrt(var + 1e-16) * eps + _b(bias, x.ndim)
        if self.mode == "shared":
            w = mean + std * jax.random.normal(key, mean.shape, mean.dtype)
            return x @ w + _b(bias, x.ndim)
        # per_example: W_b = m + s * eps_b, one [D_in, F] sample per row of x.
        eps = jax.random.normal(key, (x.shape[0],) + mean.shape, mean.dtype)  # [B, D_in, F]
        return jax.vmap(lambda xi, e: xi @ (mean + std * e))(x, eps) + _b(bias, x.ndim)


class BayesConv(_Bayes):
    """2-D convolution ``[B, H, W, C_in] -> [B, H', W', features]`` (NHWC, HWIO kernel)."""

    features: int
    kernel_size: Sequence[int] = (3, 3)
    strides: Sequence[int] = (1, 1)
    padding: str = "SAME"
    mode: str = "local"
    init_log_std: float = -5.0

    def _conv(self, x, w):
        return jax.lax.conv_general_dilated(
            x, w, tuple(self.strides), self.padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = False) -> jax.Array:
        _check_mode(self.mode)
        c_in = x.shape[-1]
        shape = (*self.kernel_size, c_in, self.features)
        fan_in = c_in * self.kernel_size[0] * self.kernel_size[1]
        mean, log_std = self.kernel_params(shape, fan_in, self.init_log_std)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        if deterministic:
            return self._conv(x, mean) + _b(bias, x.ndim)
        std = jnp.exp(log_std)
        key = self.make_rng("noise")
        if self.mode == "local":
            mu, var = self.moments(x, mean, std)
            eps = jax.random.normal(key, mu.shape, mu.dtype)
            return mu + jnp.sqrt(var + 1e-16) * eps + _b(bias, x.ndim)
        if self.mode == "shared":
            w = mean + std * jax.random.normal(key, shape, mean.dtype)
            return self._conv(x, w) + _b(bias, x.ndim)
        # per_example: one kernel sample per example, applied to the image patches (an einsum;
        # XLA's CPU convolution with a batch of kernels is far slower).
        eps = jax.random.normal(key, (x.shape[0],) + shape, mean.dtype)  # [B, kh, kw, C, F]
        w = jnp.transpose(mean[None] + std[None] * eps, (0, 3, 1, 2, 4))  # [B, C, kh, kw, F]
        patches = jax.lax.conv_general_dilated_patches(  # [B, H', W', C * kh * kw], C major
            x, tuple(self.kernel_size), tuple(self.strides), self.padding,
            dimension_numbers=("NHWC", "HWIO", "NHWC"))
        y = jnp.einsum("bhwk,bkf->bhwf", patches, w.reshape(x.shape[0], -1, self.features))
        return y + _b(bias, x.ndim)

    def moments(self, x, mean, std):
        """Mean and variance of the pre-activation at each output pixel: conv(x, m), conv(x^2, s^2).
        """
        return self._conv(x, mean), self._conv(x * x, std * std)
