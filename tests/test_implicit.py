"""Implicit reparameterization gradients: per-sample agreement with jax.random's own implicit
gradients (same draws) and Monte Carlo agreement with closed-form d/dtheta E[f(x)].

Gamma sampling compiles a rejection loop (seconds on CPU), so every test here draws N values in
all (the implicit samplers flatten, so compiled kernels are shared) and derivatives come from
JVPs (jacfwd would vmap, and recompile, the loop). Only Gamma is compared to jax.random per
sample; Beta and Dirichlet reuse its log-Gamma draws and are checked against closed forms.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import polygamma
from scipy import special

from rgrad import samplers as S

N = 3000  # same as test_samplers' KS tests, so the log-Gamma kernels compile once per session.
KEY = jax.random.key(1)


def _tangent(fn, primals, i):
    """Per-sample derivative of fn's output in primals[i], by one JVP."""
    tangents = tuple(jnp.ones_like(p) if j == i else jnp.zeros_like(p)
                     for j, p in enumerate(primals))
    return jax.jvp(fn, primals, tangents)[1]


def _assert_mc(per_sample, truth, k=5.0):
    per_sample = np.asarray(per_sample, np.float64)
    mean, se = per_sample.mean(0), per_sample.std(0, ddof=1) / np.sqrt(per_sample.shape[0])
    np.testing.assert_array_less(np.abs(mean - np.asarray(truth)), k * se + 1e-6)


def test_gamma_matches_jax_per_sample():
    alpha = jnp.float32(0.8)
    ours = _tangent(lambda a: S.sample_gamma(KEY, a, shape=(N,)), (alpha,), 0)
    ref = _tangent(lambda a: jax.random.gamma(KEY, a, (N,)), (alpha,), 0)
    np.testing.assert_allclose(ours, ref, rtol=2e-4, atol=1e-6)


def test_gamma_closed_forms():
    alpha, beta = jnp.float32(0.8), jnp.float32(2.0)
    x, dx_da = jax.jvp(lambda a: S.sample_gamma(KEY, a, beta, shape=(N,)), (alpha,), (1.0,))
    _, dx_db = jax.jvp(lambda b: S.sample_gamma(KEY, alpha, b, shape=(N,)), (beta,), (1.0,))
    # x = g / beta exactly, so dx/dbeta = -x / beta per sample.
    np.testing.assert_allclose(dx_db, -x / beta, rtol=1e-4, atol=1e-7)
    _assert_mc(dx_da, 1.0 / beta)  # d/dalpha E[x] = 1 / beta
    # d/dalpha E[log x] = trigamma(alpha): per-sample gradient of log x is dx_da / x.
    _assert_mc(dx_da / x, polygamma(1, alpha))
    # Sanity of the estimator's precision: it must be able to reject a 10% error.
    se = np.std(dx_da) / np.sqrt(N)
    assert 5 * se < 0.1 / beta


def test_beta_closed_forms():
    a, b = jnp.float32(0.6), jnp.float32(2.5)
    fn = lambda a, b: S.sample_beta(KEY, a, b, shape=(N,))
    da, db = _tangent(fn, (a, b), 0), _tangent(fn, (a, b), 1)
    # E[x] = a / (a + b).
    _assert_mc(da, b / (a + b) ** 2)
    _assert_mc(db, -a / (a + b) ** 2)
    # E[log x] = digamma(a) - digamma(a + b): its alpha-gradient checks the whole path.
    x = S.sample_beta(KEY, a, b, shape=(N,))
    _assert_mc(da / x, polygamma(1, a) - polygamma(1, a + b))


def test_dirichlet_closed_forms():
    alpha = jnp.array([0.5, 1.0, 2.5])
    fn = lambda a: S.sample_dirichlet(KEY, a, shape=(N // 3,))  # N draws: shares the kernel
    basis = jnp.eye(3)
    jac = jnp.stack([jax.jvp(fn, (alpha,), (basis[j],))[1] for j in range(3)], -1)  # [N, K, K]
    a0 = alpha.sum()
    # d E[w_i] / d alpha_j = delta_ij / a0 - alpha_i / a0^2.
    truth = jnp.eye(3) / a0 - alpha[:, None] / a0**2
    _assert_mc(jac, truth)
    np.testing.assert_allclose(jac.sum(1), 0.0, atol=1e-5)  # the simplex constraint


def test_implicit_reparam_generic_matches_inverse_transform():
    # For an invertible CDF the implicit and explicit pathwise gradients coincide exactly.
    fam = S.WEIBULL
    draw = lambda key, s, k: jax.lax.stop_gradient(
        S.inverse_transform(key, fam.quantile, (s, k)))
    sampler = S.implicit_reparam(draw, fam.cdf)
    params = (jnp.float32(1.5), jnp.float32(2.0))
    for i in range(2):
        g = _tangent(lambda *p: sampler(KEY, *p, shape=(N,)), params, i)
        r = _tangent(lambda *p: S.sample_weibull(KEY, *p, shape=(N,)), params, i)
        np.testing.assert_allclose(g, r, rtol=1e-3, atol=1e-5)


@pytest.mark.slow  # compiles Gamma's rejection loop under jit + vmap (~5 s of CPU)
def test_implicit_under_jit_vmap_grad():
    fn = lambda a, k: S.sample_gamma(k, a, shape=(N,)).mean()
    keys = jnp.stack([KEY, jax.random.key(2)])
    g = jax.jit(jax.vmap(jax.grad(fn), in_axes=(None, 0)))(jnp.float32(0.8), keys)
    np.testing.assert_allclose(g[0], jax.grad(fn)(jnp.float32(0.8), KEY), rtol=1e-4)


# ------------------------------------------------- small concentrations (log-space CDF)

SMALL = (0.005, 0.01, 0.02, 0.05)  # below ~0.05 many log-Gamma draws have e^y < 1e-45


def _naive_loggamma(key, alpha, shape=()):
    """The pre-fix sampler: implicit gradient through gammainc(alpha, e^y), which underflows."""
    sampler = S.implicit_reparam(
        lambda k, a: jax.random.loggamma(k, a, a.shape, a.dtype),
        lambda y, a: jax.scipy.special.gammainc(a, jnp.exp(y)))
    return sampler(key, alpha, shape=shape)


def _reference_dy_dalpha(y, alpha):
    """float64 implicit gradient -(d log F / d alpha) / (d log F / d y) of log-Gamma draws y.

    Independent of rgrad's series: scipy's gammainc with a central difference in alpha where
    e^y is representable in float64, and the exact tiny-x limit -(y - digamma(alpha + 1)) /
    alpha below (there log F = alpha y - log Gamma(alpha + 1) up to O(e^y) < 1e-300).
    """
    y, a = np.asarray(y, np.float64), float(alpha)
    tiny = y < -690.0
    x = np.exp(np.where(tiny, 0.0, y))
    h = 1e-6 * a
    log_f = lambda b: np.log(special.gammainc(b, x))
    dlogf_da = (log_f(a + h) - log_f(a - h)) / (2 * h)
    dlogf_dy = np.exp(a * np.log(x) - x - special.gammaln(a) - log_f(a))  # pdf(y) / F(y)
    return np.where(tiny, -(y - special.digamma(a + 1.0)) / a, -dlogf_da / dlogf_dy)


@pytest.mark.parametrize("alpha", SMALL)
def test_loggamma_small_alpha_matches_float64_per_sample(alpha):
    y, dy = jax.jvp(lambda a: S.sample_loggamma(KEY, a, shape=(N,)), (jnp.float32(alpha),),
                    (1.0,))
    assert np.mean(np.asarray(y) < -103.0) > 0.005  # the regime where gammainc underflowed
    np.testing.assert_allclose(dy, _reference_dy_dalpha(y, alpha), rtol=1e-4)


def _loggamma_trigamma_check(sampler, alpha):
    # d/dalpha E[log g] = trigamma(alpha) ~ 1/alpha^2; per-sample gradients have a similar
    # spread, so N = 3000 resolves the mean to ~2% (5 SE ~ 9%).
    _, dy = jax.jvp(lambda a: sampler(KEY, a, shape=(N,)), (jnp.float32(alpha),), (1.0,))
    _assert_mc(dy, polygamma(1, jnp.float32(alpha)))


def _beta_mean_check(sampler, alpha):
    # Beta(a, a): d/da E[x] = b / (a + b)^2 = 1 / (4 a) at b = a (b held fixed).
    _, dx = jax.jvp(lambda a: sampler(KEY, a, jnp.float32(alpha), shape=(N,)),
                    (jnp.float32(alpha),), (1.0,))
    _assert_mc(dx, 1.0 / (4.0 * alpha))


def test_loggamma_small_alpha_trigamma():
    for alpha in SMALL:
        _loggamma_trigamma_check(S.sample_loggamma, alpha)


def test_beta_small_alpha_mean_gradient():
    for alpha in SMALL:
        _beta_mean_check(S.sample_beta, alpha)


def test_small_alpha_checks_reject_the_underflowing_cdf():
    # The same checks must catch the old gradient (0 wherever e^y underflowed).
    def naive_beta(key, a, b, shape=()):
        key_a, key_b = jax.random.split(key)
        return jax.nn.sigmoid(_naive_loggamma(key_a, a, shape) - _naive_loggamma(key_b, b, shape))

    for alpha in (0.01, 0.05):
        with pytest.raises(AssertionError):
            _loggamma_trigamma_check(_naive_loggamma, alpha)
    with pytest.raises(AssertionError):
        _beta_mean_check(naive_beta, 0.01)
