"""Closed-form univariate families for inverse-transform sampling.

Each family bundles its quantile function F^{-1}(u; params), CDF F(x; params) and log-density.
All three are elementwise: `u`/`x` and the parameters must already share one shape (callers
broadcast explicitly because rank promotion is disabled in this codebase). They are written with
`log1p`/`expm1`/`softplus` so they stay accurate in the tails, where float32 is tightest.
"""
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Family(NamedTuple):
    """A univariate distribution family given by closed-form functions.

    Attributes:
      name: Human-readable name.
      params: Parameter names, in the positional order the functions take them.
      positive: Names of parameters that must be > 0.
      quantile: `quantile(u, *params) -> x`, the inverse CDF; `u` in (0, 1).
      cdf: `cdf(x, *params) -> F(x)`.
      log_prob: `log_prob(x, *params) -> log p(x)`.
    """

    name: str
    params: tuple[str, ...]
    positive: tuple[str, ...]
    quantile: Callable[..., jax.Array]
    cdf: Callable[..., jax.Array]
    log_prob: Callable[..., jax.Array]


EXPONENTIAL = Family(
    name="Exponential",
    params=("rate",),
    positive=("rate",),
    quantile=lambda u, rate: -jnp.log1p(-u) / rate,
    cdf=lambda x, rate: -jnp.expm1(-rate * x),
    log_prob=lambda x, rate: jnp.log(rate) - rate * x,
)


def _weibull_log_prob(x, scale, concentration):
    z = x / scale
    return (jnp.log(concentration) - jnp.log(scale) + (concentration - 1.0) * jnp.log(z)
            - z**concentration)


WEIBULL = Family(
    name="Weibull",
    params=("scale", "concentration"),
    positive=("scale", "concentration"),
    quantile=lambda u, scale, k: scale * (-jnp.log1p(-u)) ** (1.0 / k),
    cdf=lambda x, scale, k: -jnp.expm1(-((x / scale) ** k)),
    log_prob=_weibull_log_prob,
)


def _gumbel_log_prob(x, loc, scale):
    z = (x - loc) / scale
    return -jnp.log(scale) - z - jnp.exp(-z)


GUMBEL = Family(
    name="Gumbel",
    params=("loc", "scale"),
    positive=("scale",),
    quantile=lambda u, loc, scale: loc - scale * jnp.log(-jnp.log(u)),
    cdf=lambda x, loc, scale: jnp.exp(-jnp.exp(-(x - loc) / scale)),
    log_prob=_gumbel_log_prob,
)


def _logistic_log_prob(x, loc, scale):
    z = (x - loc) / scale
    return -jax.nn.softplus(z) - jax.nn.softplus(-z) - jnp.log(scale)


LOGISTIC = Family(
    name="Logistic",
    params=("loc", "scale"),
    positive=("scale",),
    quantile=lambda u, loc, scale: loc + scale * (jnp.log(u) - jnp.log1p(-u)),
    cdf=lambda x, loc, scale: jax.nn.sigmoid((x - loc) / scale),
    log_prob=_logistic_log_prob,
)


def _laplace_quantile(u, loc, scale):
    c = u - 0.5
    return loc - scale * jnp.sign(c) * jnp.log1p(-2.0 * jnp.abs(c))


def _laplace_cdf(x, loc, scale):
    z = (x - loc) / scale
    neg = z < 0
    # Branch-safe exponents (no overflow in the unselected branch) whose derivative at z = 0
    # is the density 1 / 2 (sign/abs formulations differentiate to 0 there).
    z_neg, z_pos = jnp.where(neg, z, 0.0), jnp.where(neg, 0.0, z)
    return jnp.where(neg, 0.5 * jnp.exp(z_neg), 0.5 - 0.5 * jnp.expm1(-z_pos))


LAPLACE = Family(
    name="Laplace",
    params=("loc", "scale"),
    positive=("scale",),
    quantile=_laplace_quantile,
    cdf=_laplace_cdf,
    log_prob=lambda x, loc, scale: -jnp.log(2.0 * scale) - jnp.abs(x - loc) / scale,
)

CAUCHY = Family(
    name="Cauchy",
    params=("loc", "scale"),
    positive=("scale",),
    quantile=lambda u, loc, scale: loc + scale * jnp.tan(jnp.pi * (u - 0.5)),
    cdf=lambda x, loc, scale: 0.5 + jnp.arctan((x - loc) / scale) / jnp.pi,
    log_prob=lambda x, loc, scale: (-jnp.log(jnp.pi * scale)
                                    - jnp.log1p(((x - loc) / scale) ** 2)),
)


def _kumaraswamy_log_prob(x, a, b):
    return (jnp.log(a) + jnp.log(b) + (a - 1.0) * jnp.log(x)
            + (b - 1.0) * jnp.log1p(-(x**a)))


KUMARASWAMY = Family(
    name="Kumaraswamy",
    params=("a", "b"),
    positive=("a", "b"),
    # F(x) = 1 - (1 - x^a)^b; both directions go through log1p/expm1 so u near 0 and 1 are exact.
    quantile=lambda u, a, b: (-jnp.expm1(jnp.log1p(-u) / b)) ** (1.0 / a),
    cdf=lambda x, a, b: -jnp.expm1(b * jnp.log1p(-(x**a))),
    log_prob=_kumaraswamy_log_prob,
)

FAMILIES = (EXPONENTIAL, WEIBULL, GUMBEL, LOGISTIC, LAPLACE, CAUCHY, KUMARASWAMY)
