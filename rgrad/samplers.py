"""Reparameterized samplers: location-scale, inverse-transform, and implicit (Figurnov 2018).

Every sampler is a pure function `sample_xxx(key, *params, shape=())` whose output has shape
`shape + batch_shape`, where `batch_shape` is the broadcast of the parameter shapes (plus an event
axis for multivariate families). Outputs are differentiable in the parameters (pathwise
gradients) and the functions work under `jit`, `vmap` and `grad`.

Bad parameters raise `ValueError` naming the argument, but only when the values are concrete;
inside `jit`/`grad` the checks are skipped (they cannot see traced values).

The univariate implicit samplers live in `rgrad.implicit` and are re-exported here.
"""
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from rgrad.families import (
    CAUCHY,
    EXPONENTIAL,
    FAMILIES,
    GUMBEL,
    KUMARASWAMY,
    LAPLACE,
    LOGISTIC,
    WEIBULL,
    Family,
)
from rgrad.implicit import (
    implicit_reparam,
    sample_beta,
    sample_dirichlet,
    sample_gamma,
    sample_loggamma,
)
from rgrad.validation import as_float, batch_shape_of, check_positive, full_shape

Shape = Sequence[int]

# ---------------------------------------------------------------------------------------------
# Location-scale families.
# ---------------------------------------------------------------------------------------------


def gaussian_diag(key: jax.Array, mu, sigma, shape: Shape = ()) -> jax.Array:
    """z = mu + sigma * eps, eps ~ N(0, I).

    Args:
      key: PRNG key.
      mu: Mean, any shape broadcastable with `sigma`.  # [*B]
      sigma: Standard deviation (> 0).  # [*B]
      shape: Leading sample shape.

    Returns:
      Samples of shape `shape + B`.  # [*S, *B]
    """
    check_positive("sigma", sigma, "pass a positive scale, e.g. jnp.exp(log_sigma)")
    mu, sigma = as_float(mu), as_float(sigma)
    out = full_shape(shape, batch_shape_of(mu=mu, sigma=sigma))
    eps = jax.random.normal(key, out, jnp.result_type(mu, sigma))
    return jnp.broadcast_to(mu, out) + jnp.broadcast_to(sigma, out) * eps


def gaussian_full(key: jax.Array, mu, scale_tril, shape: Shape = ()) -> jax.Array:
    """z = mu + L eps, eps ~ N(0, I_D); the covariance is L L^T.

    Args:
      key: PRNG key.
      mu: Mean.  # [*B, D]
      scale_tril: Lower-triangular Cholesky factor with positive diagonal; the strict upper
        triangle is ignored.  # [*B, D, D]
      shape: Leading sample shape.

    Returns:
      Samples.  # [*S, *B, D]
    """
    mu, scale_tril = as_float(mu), as_float(scale_tril)
    if scale_tril.ndim < 2 or scale_tril.shape[-1] != scale_tril.shape[-2]:
        raise ValueError(f"scale_tril must have shape [..., D, D] (got {scale_tril.shape}); "
                         "pass a square lower-triangular matrix, e.g. jnp.linalg.cholesky(cov)")
    if mu.ndim < 1 or mu.shape[-1] != scale_tril.shape[-1]:
        raise ValueError(f"mu must have shape [..., D] with D={scale_tril.shape[-1]} matching "
                         f"scale_tril (got mu.shape={mu.shape})")
    check_positive("scale_tril diagonal", jnp.diagonal(scale_tril, axis1=-2, axis2=-1),
                   "pass a Cholesky factor with positive diagonal, e.g. jnp.linalg.cholesky(cov)")
    d = mu.shape[-1]
    batch = batch_shape_of(mu=mu[..., 0], scale_tril=scale_tril[..., 0, 0])
    out = full_shape(shape, batch)
    eps = jax.random.normal(key, out + (d,), jnp.result_type(mu, scale_tril))
    tril = jnp.broadcast_to(jnp.tril(scale_tril), out + (d, d))
    return jnp.broadcast_to(mu, out + (d,)) + jnp.einsum("...ij,...j->...i", tril, eps)


def lognormal(key: jax.Array, mu, sigma, shape: Shape = ()) -> jax.Array:
    """x = exp(mu + sigma * eps); `mu`, `sigma` are the mean and std of log x.  # [*S, *B]"""
    return jnp.exp(gaussian_diag(key, mu, sigma, shape))


def logistic_normal(key: jax.Array, mu, scale_tril, shape: Shape = ()) -> jax.Array:
    """w = softmax(mu + L eps), a point on the (D-1)-simplex.  # [*S, *B, D]"""
    return jax.nn.softmax(gaussian_full(key, mu, scale_tril, shape), axis=-1)


# ---------------------------------------------------------------------------------------------
# Inverse-transform sampling.
# ---------------------------------------------------------------------------------------------


def inverse_transform(key: jax.Array, quantile_fn: Callable[..., jax.Array], params,
                      shape: Shape = ()) -> jax.Array:
    """x = F^{-1}(u; params), u ~ U(0, 1), differentiable in `params`.

    Args:
      key: PRNG key.
      quantile_fn: Elementwise `quantile_fn(u, *params) -> x`.
      params: Tuple of parameter arrays, broadcastable to a common batch shape B.
      shape: Leading sample shape.

    Returns:
      Samples.  # [*S, *B]
    """
    params = tuple(as_float(p) for p in params)
    out = full_shape(shape, batch_shape_of(**{f"params[{i}]": p for i, p in enumerate(params)}))
    dtype = jnp.result_type(*params)
    # Keep u strictly inside (0, 1) so quantiles with log(u) or log(1 - u) stay finite; u does not
    # depend on params, so the clip does not touch the pathwise gradient.
    u = jax.random.uniform(key, out, dtype)
    u = jnp.clip(u, jnp.finfo(dtype).tiny, 1.0 - jnp.finfo(dtype).epsneg)
    return quantile_fn(u, *(jnp.broadcast_to(p, out) for p in params))


def sample_family(key: jax.Array, family: Family, *params, shape: Shape = ()) -> jax.Array:
    """Inverse-transform sample from a `Family`, validating its positive parameters."""
    if len(params) != len(family.params):
        raise ValueError(f"{family.name} takes parameters {family.params} (got {len(params)})")
    batch_shape_of(**dict(zip(family.params, params, strict=True)))  # names them in errors
    for name, p in zip(family.params, params, strict=True):
        if name in family.positive:
            check_positive(name, p, f"{family.name} needs {name} > 0, e.g. jnp.exp(log_{name})")
    return inverse_transform(key, family.quantile, params, shape)


def sample_exponential(key, rate, shape: Shape = ()):
    """Exponential(rate) samples, mean 1/rate.  # [*S, *B]"""
    return sample_family(key, EXPONENTIAL, rate, shape=shape)


def sample_weibull(key, scale, concentration, shape: Shape = ()):
    """Weibull(scale, concentration) samples.  # [*S, *B]"""
    return sample_family(key, WEIBULL, scale, concentration, shape=shape)


def sample_gumbel(key, loc, scale, shape: Shape = ()):
    """Gumbel(loc, scale) samples.  # [*S, *B]"""
    return sample_family(key, GUMBEL, loc, scale, shape=shape)


def sample_logistic(key, loc, scale, shape: Shape = ()):
    """Logistic(loc, scale) samples.  # [*S, *B]"""
    return sample_family(key, LOGISTIC, loc, scale, shape=shape)


def sample_laplace(key, loc, scale, shape: Shape = ()):
    """Laplace(loc, scale) samples.  # [*S, *B]"""
    return sample_family(key, LAPLACE, loc, scale, shape=shape)


def sample_cauchy(key, loc, scale, shape: Shape = ()):
    """Cauchy(loc, scale) samples.  # [*S, *B]"""
    return sample_family(key, CAUCHY, loc, scale, shape=shape)


def sample_kumaraswamy(key, a, b, shape: Shape = ()):
    """Kumaraswamy(a, b) samples on (0, 1).  # [*S, *B]"""
    return sample_family(key, KUMARASWAMY, a, b, shape=shape)


__all__ = [
    "CAUCHY", "EXPONENTIAL", "FAMILIES", "GUMBEL", "KUMARASWAMY", "LAPLACE", "LOGISTIC",
    "WEIBULL", "Family", "check_positive", "gaussian_diag",
    "gaussian_full", "implicit_reparam", "inverse_transform", "logistic_normal", "lognormal",
    "sample_beta", "sample_cauchy", "sample_dirichlet", "sample_exponential", "sample_family",
    "sample_gamma", "sample_gumbel", "sample_kumaraswamy", "sample_laplace", "sample_logistic",
    "sample_loggamma", "sample_weibull",
]
