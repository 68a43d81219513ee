"""Implicit reparameterization gradients (Figurnov, Mohamed & Mnih, 2018).

For x ~ p(x; theta) with CDF F(x; theta), the standardization u = F(x; theta) is independent of
theta, so differentiating F(x(theta); theta) = u gives the pathwise gradient

    dx/dtheta = -(dF(x; theta)/dtheta) / p(x; theta),    p = dF/dx,

without ever inverting F. `implicit_reparam` attaches that rule (via `jax.custom_jvp`, so both
forward and reverse mode work) to any non-differentiable sampler; p is obtained by autodiff of
the CDF. Gamma uses `jax.scipy.special.gammainc`, whose derivative in the shape parameter is
supported by JAX. Beta and Dirichlet are built from log-Gamma draws (`betainc` has no gradient in
`a`, `b`), normalized in log space so small concentrations do not underflow to 0/0. The
log-Gamma gradient uses the log-CDF (a series for small e^y), since the CDF itself underflows
for the very small draws that concentrations below ~0.05 produce.
"""
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax.scipy.special import gammainc, gammaln

from rgrad.validation import as_float, batch_shape_of, check_positive, full_shape

Shape = Sequence[int]


def implicit_reparam(sampler: Callable[..., jax.Array],
                     cdf: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """Builds a sampler whose gradient is the implicit reparameterization gradient.

    Args:
      sampler: `sampler(key, *params) -> x`, elementwise: all `params` arrive broadcast to the
        output shape and `x` has that shape. It need not be differentiable (its parameters are
        passed through `stop_gradient`).
      cdf: Elementwise `cdf(x, *params) -> F(x; params)`, differentiable in `x` and `params`,
        or any strictly increasing function of it (e.g. log F), which gives the same ratio.

    Returns:
      `sample(key, *params, shape=()) -> x` of shape `shape + broadcast(param shapes)`, with
      dx/dparams = -(dF/dparams) / (dF/dx). Where the density underflows to 0 the gradient is 0.
    """

    @jax.custom_jvp
    def attach(x, *params):
        return x

    @attach.defjvp
    def attach_jvp(primals, tangents):
        x, *params = primals
        x_dot, *params_dot = tangents
        _, dcdf = jax.jvp(lambda *p: cdf(x, *p), tuple(params), tuple(params_dot))
        # Elementwise CDF, so the JVP with a ones tangent is the density at each x.
        _, pdf = jax.jvp(lambda y: cdf(y, *params), (x,), (jnp.ones_like(x),))
        ok = pdf > 0
        # Double where: the divisor must be safe too, or the transpose produces 0/0 = NaN.
        dx = jnp.where(ok, -dcdf / jnp.where(ok, pdf, 1.0), 0.0)
        return x, x_dot + dx

    def sample(key, *params, shape: Shape = ()):
        params = tuple(as_float(p) for p in params)
        out = full_shape(shape, batch_shape_of(**{f"params[{i}]": p
                                                  for i, p in enumerate(params)}))
        # Elementwise, so work on flat vectors: every output shape with the same size then
        # shares one compiled kernel (Gamma's rejection loop is slow to compile on CPU).
        params = tuple(jnp.broadcast_to(p, out).reshape(-1) for p in params)
        x = sampler(key, *(jax.lax.stop_gradient(p) for p in params))
        return attach(x, *params).reshape(out)

    return sample


def _gamma_draw(key, alpha, beta):
    # Same draws as jax.random.gamma (which also samples in log space); sharing the log-Gamma
    # kernel with Beta/Dirichlet saves XLA compiles of its rejection-sampling loop.
    return jnp.exp(jax.random.loggamma(key, alpha, alpha.shape, alpha.dtype)) / beta


def _gamma_cdf(x, alpha, beta):
    return gammainc(alpha, beta * x)


def _loggamma_draw(key, alpha):
    return jax.random.loggamma(key, alpha, alpha.shape, alpha.dtype)


_SERIES_TERMS = 16  # for x = e^y <= 1 the n-th term is below 1 / n!, so 1/16! ~ 5e-14 is left


def _loggamma_log_cdf(y, alpha):
    """log P(Y <= y) for Y = log g, g ~ Gamma(alpha, 1): log P(alpha, e^y), finite for any y.

    The CDF itself, gammainc(alpha, e^y), is 0 in float32 once e^y underflows (y < -103), which
    at alpha = 0.01 is 42% of the draws; its derivatives then vanish and the implicit gradient
    with them. For y <= 0 we use the lower incomplete gamma series in log space,
    P(alpha, x) = x^alpha / Gamma(alpha + 1) * S,
    S = 1 + sum_{n >= 1} (-x)^n / n! * alpha / (alpha + n),  x = e^y <= 1,
    whose terms stay in [-1, 1] and S in [1/e, 1] (no cancellation); e^{n y} underflowing is
    harmless there. Above, log(gammainc) is accurate. Both branches are evaluated at clamped
    inputs (double where) so the unused one cannot put NaN into the derivatives.
    """
    small = y <= 0.0
    y_s = jnp.where(small, y, 0.0)
    n = jnp.arange(1.0, _SERIES_TERMS + 1.0, dtype=y.dtype).reshape((1,) * y.ndim + (-1,))
    y_n, alpha_n = y_s[..., None], alpha[..., None]  # [*B, 1], against n [1.., T]
    signs = jnp.where(n % 2 == 1, -1.0, 1.0).astype(y.dtype)
    terms = signs * jnp.exp(n * y_n - gammaln(n + 1.0)) * (alpha_n / (alpha_n + n))  # [*B, T]
    log_series = alpha * y_s - gammaln(alpha + 1.0) + jnp.log1p(jnp.sum(terms, axis=-1))
    log_direct = jnp.log(gammainc(alpha, jnp.exp(jnp.where(small, 0.0, y))))
    return jnp.where(small, log_series, log_direct)


_gamma = implicit_reparam(_gamma_draw, _gamma_cdf)
# The implicit ratio -(dF/dalpha) / (dF/dy) is the same for any increasing function of F, so
# the log-CDF gives the log-Gamma gradient without ever forming the (underflowing) CDF.
_loggamma = implicit_reparam(_loggamma_draw, _loggamma_log_cdf)


def sample_gamma(key: jax.Array, alpha, beta=1.0, shape: Shape = ()) -> jax.Array:
    """Gamma(alpha, rate=beta) samples with implicit gradients in `alpha` and `beta`.

    Args:
      key: PRNG key.
      alpha: Shape (concentration) > 0.  # [*B]
      beta: Rate > 0 (mean is alpha / beta).  # [*B]
      shape: Leading sample shape.

    Returns:
      Samples.  # [*S, *B]
    """
    check_positive("alpha", alpha, "Gamma needs a positive shape, e.g. jnp.exp(log_alpha)")
    check_positive("beta", beta, "Gamma needs a positive rate, e.g. jnp.exp(log_beta)")
    return _gamma(key, alpha, beta, shape=shape)


def sample_loggamma(key: jax.Array, alpha, shape: Shape = ()) -> jax.Array:
    """log g, g ~ Gamma(alpha, 1), with implicit gradients; finite even when g underflows.

    Returns:
      Samples.  # [*S, *B]
    """
    check_positive("alpha", alpha, "Gamma needs a positive shape, e.g. jnp.exp(log_alpha)")
    return _loggamma(key, alpha, shape=shape)


def sample_beta(key: jax.Array, a, b, shape: Shape = ()) -> jax.Array:
    """Beta(a, b) samples as g_a / (g_a + g_b) with implicit Gamma gradients.

    Computed as sigmoid(log g_a - log g_b). The key is split like `jax.random.beta`'s, so the
    draws (and gradients) agree with it up to rounding.

    Returns:
      Samples in (0, 1).  # [*S, *B]
    """
    check_positive("a", a, "Beta needs a > 0, e.g. jnp.exp(log_a)")
    check_positive("b", b, "Beta needs b > 0, e.g. jnp.exp(log_b)")
    a, b = as_float(a), as_float(b)
    out = full_shape(shape, batch_shape_of(a=a, b=b))
    key_a, key_b = jax.random.split(key)
    log_ga = _loggamma(key_a, jnp.broadcast_to(a, out))
    log_gb = _loggamma(key_b, jnp.broadcast_to(b, out))
    return jax.nn.sigmoid(log_ga - log_gb)


def sample_dirichlet(key: jax.Array, alpha, shape: Shape = ()) -> jax.Array:
    """Dirichlet(alpha) samples as normalized Gammas (softmax of log-Gammas).

    Args:
      key: PRNG key.
      alpha: Concentrations > 0.  # [*B, K]
      shape: Leading sample shape.

    Returns:
      Points on the simplex.  # [*S, *B, K]
    """
    check_positive("alpha", alpha, "Dirichlet needs alpha > 0, e.g. jnp.exp(log_alpha)")
    alpha = as_float(alpha)
    if alpha.ndim < 1:
        raise ValueError(f"alpha must have shape [..., K] (got {alpha.shape}); pass a vector of "
                         "concentrations")
    log_g = _loggamma(key, alpha, shape=shape)
    return jax.nn.softmax(log_g, axis=-1)
