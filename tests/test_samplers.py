"""Tests for rgrad.samplers: shapes, KS goodness of fit, pathwise and implicit gradients."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import gammaln
from scipy import stats

from rgrad import samplers as S

N = 3000  # KS and Monte Carlo sample size; SEs below are computed from the samples.
KEY = jax.random.key(0)


def _ks(x, cdf):
    return stats.kstest(np.asarray(x, np.float64).ravel(), cdf).pvalue


def _assert_mc(per_sample, truth, k=5.0):
    """|mean - truth| < k standard errors, for per-sample estimates along axis 0."""
    per_sample = np.asarray(per_sample, np.float64)
    mean, se = per_sample.mean(0), per_sample.std(0, ddof=1) / np.sqrt(per_sample.shape[0])
    np.testing.assert_array_less(np.abs(mean - np.asarray(truth)), k * se + 1e-6)


# ------------------------------------------------------------------------------ shapes ------

SHAPE_CASES = [
    (lambda k: S.gaussian_diag(k, jnp.zeros(3), 1.0, shape=(5, 2)), (5, 2, 3)),
    (lambda k: S.gaussian_full(k, jnp.zeros((4, 3)), jnp.eye(3), shape=(5,)), (5, 4, 3)),
    (lambda k: S.lognormal(k, 0.0, jnp.ones(3), shape=7), (7, 3)),
    (lambda k: S.logistic_normal(k, jnp.zeros(3), jnp.eye(3), shape=(2,)), (2, 3)),
    (lambda k: S.sample_exponential(k, jnp.ones(4), shape=(2,)), (2, 4)),
    (lambda k: S.sample_weibull(k, jnp.ones((2, 1)), jnp.ones(3)), (2, 3)),
    (lambda k: S.sample_kumaraswamy(k, 2.0, 3.0, shape=(6,)), (6,)),
    (lambda k: S.sample_gamma(k, jnp.ones(3), 2.0, shape=(5,)), (5, 3)),
    (lambda k: S.sample_beta(k, jnp.ones(3), jnp.ones((2, 1)), shape=(5,)), (5, 2, 3)),
    (lambda k: S.sample_dirichlet(k, jnp.ones((2, 4)), shape=(5,)), (5, 2, 4)),
]


@pytest.mark.parametrize("fn,shape", SHAPE_CASES)
def test_shapes(fn, shape):
    # eval_shape traces without compiling (Gamma's rejection loop is slow to compile on CPU).
    assert jax.eval_shape(fn, KEY).shape == shape


# ------------------------------------------------------------------------------ KS ----------

def test_ks_gaussians():
    mu, sigma = jnp.array([0.5, -1.0]), jnp.array([2.0, 0.3])
    z = S.gaussian_diag(KEY, mu, sigma, shape=(N,))
    for i in range(2):
        assert _ks(z[:, i], stats.norm(float(mu[i]), float(sigma[i])).cdf) > 1e-3
    x = S.lognormal(KEY, 0.2, 0.7, shape=(N,))
    assert _ks(x, stats.lognorm(s=0.7, scale=np.exp(0.2)).cdf) > 1e-3
    tril = jnp.array([[1.0, 0.0], [0.8, 0.5]])
    z = S.gaussian_full(KEY, mu, tril, shape=(N,))
    cov = np.asarray(tril @ tril.T)
    for i in range(2):
        assert _ks(z[:, i], stats.norm(float(mu[i]), np.sqrt(cov[i, i])).cdf) > 1e-3
    # A projection that depends on the off-diagonal: Var(z0 - z1) = 1 + 0.64 + 0.25 - 1.6.
    assert _ks(z[:, 0] - z[:, 1], stats.norm(1.5, np.sqrt(0.29)).cdf) > 1e-3


def test_ks_logistic_normal():
    mu, tril = jnp.array([0.3, -0.2, 0.0]), jnp.array([[1.0, 0, 0], [0.5, 0.8, 0], [0, 0, 1.0]])
    w = S.logistic_normal(KEY, mu, tril, shape=(N,))
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
    # log(w0 / w1) = z0 - z1 ~ N(0.5, 1 - 1.0 + 0.25 + 0.64).
    assert _ks(jnp.log(w[:, 0] / w[:, 1]), stats.norm(0.5, np.sqrt(0.89)).cdf) > 1e-3


def _kumaraswamy_cdf(a, b):
    return lambda x: 1.0 - (1.0 - np.clip(x, 0, 1) ** a) ** b


# (sampler, params, independent scipy/numpy CDF)
FAMILY_CASES = [
    (S.sample_exponential, (2.0,), stats.expon(scale=0.5).cdf),
    (S.sample_weibull, (1.5, 0.8), stats.weibull_min(c=0.8, scale=1.5).cdf),
    (S.sample_gumbel, (0.3, 1.2), stats.gumbel_r(0.3, 1.2).cdf),
    (S.sample_logistic, (-0.5, 0.7), stats.logistic(-0.5, 0.7).cdf),
    (S.sample_laplace, (0.4, 1.3), stats.laplace(0.4, 1.3).cdf),
    (S.sample_cauchy, (0.5, 2.0), stats.cauchy(0.5, 2.0).cdf),
    (S.sample_kumaraswamy, (2.0, 3.0), _kumaraswamy_cdf(2.0, 3.0)),
    (S.sample_kumaraswamy, (0.5, 0.7), _kumaraswamy_cdf(0.5, 0.7)),
]


@pytest.mark.parametrize("sampler,params,cdf", FAMILY_CASES)
def test_ks_inverse_transform(sampler, params, cdf):
    x = sampler(KEY, *params, shape=(N,))
    assert np.all(np.isfinite(x))
    assert _ks(x, cdf) > 1e-3


# Family CDF / log-density against scipy on a grid (Kumaraswamy: numpy transcription).
SCIPY = {"Exponential": lambda r: stats.expon(scale=1 / r),
         "Weibull": lambda s, k: stats.weibull_min(c=k, scale=s),
         "Gumbel": stats.gumbel_r, "Logistic": stats.logistic, "Laplace": stats.laplace,
         "Cauchy": stats.cauchy}


@pytest.mark.parametrize("family", S.FAMILIES, ids=lambda f: f.name)
def test_family_functions(family):
    params = (1.7, 0.6)[: len(family.params)]
    u = jnp.linspace(0.01, 0.99, 41)
    x = family.quantile(u, *(jnp.full_like(u, p) for p in params))
    np.testing.assert_allclose(family.cdf(x, *params), u, rtol=1e-4, atol=1e-5)
    if family.name == "Kumaraswamy":
        a, b = params
        xs = np.asarray(x, np.float64)
        ref_lp = np.log(a * b) + (a - 1) * np.log(xs) + (b - 1) * np.log1p(-xs**a)
    else:
        ref_lp = SCIPY[family.name](*params).logpdf(np.asarray(x, np.float64))
    np.testing.assert_allclose(family.log_prob(x, *params), ref_lp, rtol=1e-4, atol=1e-4)
    # p = dF/dx.
    pdf = jax.vmap(jax.grad(lambda y: family.cdf(y, *params)))(x)
    np.testing.assert_allclose(pdf, np.exp(ref_lp), rtol=1e-3, atol=1e-5)


def test_ks_implicit_families():  # Gamma, Beta and Dirichlet share one log-Gamma compile each.
    x = S.sample_gamma(KEY, jnp.float32(0.7), 2.0, shape=(N,))
    assert _ks(x, stats.gamma(0.7, scale=0.5).cdf) > 1e-3
    x = S.sample_beta(KEY, 0.6, 2.5, shape=(N,))
    assert _ks(x, stats.beta(0.6, 2.5).cdf) > 1e-3
    alpha = jnp.array([0.5, 1.0, 2.5])
    w = S.sample_dirichlet(KEY, alpha, shape=(N // 3,))  # N draws in all: reuses the kernel
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
    assert _ks(w[:, 0], stats.beta(0.5, 3.5).cdf) > 1e-3
    assert _ks(w[:, 2], stats.beta(2.5, 1.5).cdf) > 1e-3


# ------------------------------------------------------------------------------ gradients ---

def test_gaussian_diag_exact_gradients():
    mu, sigma = 0.3, 1.7
    fn = lambda m, s: S.gaussian_diag(KEY, m, s, shape=(50,))
    dmu, dsigma = jax.jacfwd(fn, argnums=(0, 1))(mu, sigma)
    eps = jax.random.normal(KEY, (50,))
    np.testing.assert_array_equal(dmu, np.ones(50))
    np.testing.assert_allclose(dsigma, eps, rtol=1e-6)


def test_gaussian_full_exact_gradients():
    mu, tril = jnp.array([0.1, -0.2]), jnp.array([[1.0, 0.0], [0.5, 2.0]])
    dmu, dtril = jax.jacfwd(lambda m, l: S.gaussian_full(KEY, m, l), argnums=(0, 1))(mu, tril)
    eps = jax.random.normal(KEY, (2,))
    np.testing.assert_array_equal(dmu, np.eye(2))
    # dz_i / dL_jk = delta_ij eps_k on the lower triangle, 0 above it.
    expect = np.einsum("ij,k->ijk", np.eye(2), eps) * np.tril(np.ones((2, 2)))[None]
    np.testing.assert_allclose(dtril, expect, rtol=1e-6)


EULER = 0.5772156649015329

# (sampler, params, f, E[f(x)] as a differentiable closed form in the params)
PATHWISE_CASES = [
    (S.sample_exponential, (2.0,), lambda x: x, lambda r: 1.0 / r),
    (S.sample_weibull, (1.5, 2.0), lambda x: x, lambda s, k: s * jnp.exp(gammaln(1 + 1 / k))),
    (S.sample_gumbel, (0.3, 1.2), jnp.square,
     lambda m, s: (m + EULER * s) ** 2 + (jnp.pi * s) ** 2 / 6),
    (S.sample_logistic, (-0.5, 0.7), jnp.square, lambda m, s: m**2 + (jnp.pi * s) ** 2 / 3),
    (S.sample_laplace, (0.4, 1.3), jnp.square, lambda m, s: m**2 + 2 * s**2),
    # E[1 / (1 + x^2)] = pi * Cauchy(loc, 1 + scale) density at 0.
    (S.sample_cauchy, (0.5, 2.0), lambda x: 1 / (1 + x**2),
     lambda m, s: (1 + s) / ((1 + s) ** 2 + m**2)),
    (S.sample_kumaraswamy, (2.0, 3.0), lambda x: x,
     lambda a, b: b * jnp.exp(gammaln(1 + 1 / a) + gammaln(b) - gammaln(1 + 1 / a + b))),
]


@pytest.mark.parametrize("sampler,params,f,mean_fn", PATHWISE_CASES)
def test_pathwise_gradients_match_closed_form(sampler, params, f, mean_fn):
    params = tuple(jnp.float32(p) for p in params)
    per_sample = jax.jacfwd(lambda p: f(sampler(KEY, *p, shape=(N,))))(params)
    truth = jax.grad(lambda p: mean_fn(*p))(params)
    for g, t in zip(per_sample, truth, strict=True):
        assert np.all(np.isfinite(g))
        _assert_mc(g, t)


def test_samplers_compose_with_jit_vmap():
    fn = lambda m, k: S.sample_logistic(k, m, 1.0, shape=(3,)).sum()
    keys = jax.random.split(KEY, 4)
    g = jax.jit(jax.vmap(jax.grad(fn), in_axes=(None, 0)))(0.5, keys)
    np.testing.assert_allclose(g, 3.0, rtol=1e-6)  # d/dloc of a location family is 1.


# ------------------------------------------------------------------------------ validation --

BAD_CASES = [
    (lambda: S.gaussian_diag(KEY, 0.0, -1.0), "sigma"),
    (lambda: S.gaussian_diag(KEY, jnp.zeros(3), jnp.ones(2)), "sigma.shape"),
    (lambda: S.lognormal(KEY, 0.0, 0.0), "sigma"),
    (lambda: S.gaussian_full(KEY, jnp.zeros(3), jnp.eye(2)), "mu"),
    (lambda: S.gaussian_full(KEY, jnp.zeros(2), jnp.ones(2)), "scale_tril"),
    (lambda: S.gaussian_full(KEY, jnp.zeros(2), -jnp.eye(2)), "scale_tril"),
    (lambda: S.sample_exponential(KEY, -2.0), "rate"),
    (lambda: S.sample_weibull(KEY, 1.0, jnp.array([1.0, jnp.nan])), "concentration"),
    (lambda: S.sample_cauchy(KEY, 0.0, 0.0), "scale"),
    (lambda: S.sample_kumaraswamy(KEY, jnp.ones(2), jnp.ones(3)), "b.shape"),
    (lambda: S.sample_gamma(KEY, -1.0), "alpha"),
    (lambda: S.sample_beta(KEY, 1.0, -1.0), "b"),
    (lambda: S.sample_dirichlet(KEY, 1.0), "alpha"),
]


@pytest.mark.parametrize("fn,name", BAD_CASES)
def test_bad_input_raises(fn, name):
    with pytest.raises(ValueError, match=name):
        fn()


def test_checks_skipped_under_jit():
    # Traced values cannot be checked; the sampler must still trace and run.
    out = jax.jit(lambda s: S.gaussian_diag(KEY, 0.0, s))(-1.0)
    assert out.shape == ()
