"""Closed-form references and variances vs Monte Carlo; estimator_stats."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rgrad import diagnostics as dg
from rgrad import estimators as est

MEAN = jnp.array([0.5, -1.0])
K = jnp.array([1.5, 0.5])
SIGMAS = (1e-2, 1e-1, 1.0, 10.0)
N = 50_000
jit_est = functools.partial(jax.jit, static_argnums=(0, 2, 4))
pathwise, score = jit_est(est.pathwise_jacobians), jit_est(est.score_function_jacobians)


@pytest.mark.parametrize("reference,coef", [
    (dg.linear_reference, jnp.array([1.0, -2.0])), (dg.quadratic_reference, K),
    (dg.weighted_quadratic_reference, jnp.array([1.0, 3.0])),
    (dg.cos_reference, jnp.array([1.0, 0.7]))])
def test_reference_gradients_are_gradients_of_reference_value(reference, coef):
    scale = jnp.array([0.8, 1.2])
    ref = reference(coef, MEAN, scale)
    assert ref.value.shape == () and ref.d_mean.shape == ref.d_log_scale.shape == (2,)
    d_mean = jax.grad(lambda m: reference(coef, m, scale).value)(MEAN)
    d_scale = jax.grad(lambda s: reference(coef, MEAN, s).value)(scale)
    assert jnp.allclose(d_mean, ref.d_mean, atol=1e-6)
    assert jnp.allclose(d_scale, ref.d_scale, atol=1e-6)
    assert jnp.allclose(scale * d_scale, ref.d_log_scale, atol=1e-6)


def _variance_and_se(jac):
    """Sample variance per column and the SE of that estimate."""
    sq = jnp.square(jac - jac.mean(0, keepdims=True))
    return sq.mean(0), sq.std(0) / jnp.sqrt(jac.shape[0])


def _check(jacs, expected):
    for jac, truth in zip(jacs, expected, strict=True):
        var, se = _variance_and_se(jac)
        assert jnp.all(jnp.abs(var - truth) < 5.0 * se + 1e-5 * truth + 1e-12), (var, truth)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_quadratic_variances_match_closed_form(sigma):
    scale = jnp.full((2,), sigma)
    params, f = [MEAN, jnp.log(scale)], functools.partial(dg.quadratic_cost, k=K)
    v = dg.quadratic_variances(K, MEAN, scale)
    _check(pathwise(f, params, est.multi_normal, jax.random.key(0), N),
           [v.pathwise_mean, v.pathwise_log_scale])
    _check(score(f, params, est.multi_normal, jax.random.key(1), N),
           [v.score_mean, v.score_log_scale])


def test_quadratic_variance_trends_as_sigma_shrinks():
    vs = [dg.quadratic_variances(K, MEAN, jnp.full((2,), s)) for s in SIGMAS[:3]]
    for small, big in zip(vs[:-1], vs[1:], strict=True):
        assert jnp.all(small.score_mean > big.score_mean)
        assert jnp.all(small.score_scale > big.score_scale)
        assert jnp.all(small.pathwise_mean < big.pathwise_mean)
        assert jnp.all(small.pathwise_log_scale < big.pathwise_log_scale)


def test_linear_pathwise_variance_is_exactly_zero():
    a, scale = jnp.array([1.0, -2.0]), jnp.array([0.3, 2.0])
    params, f = [MEAN, jnp.log(scale)], functools.partial(dg.linear_cost, a=a)
    v = dg.linear_variances(a, MEAN, scale)
    path = pathwise(f, params, est.multi_normal, jax.random.key(2), N)
    assert jnp.all(v.pathwise_mean == 0.0)
    assert jnp.all(jnp.var(path[0], axis=0) <= 1e-12)
    sf = score(f, params, est.multi_normal, jax.random.key(3), N)
    assert jnp.all(jnp.var(sf[0], axis=0) > 0.1)
    _check(sf, [v.score_mean, v.score_log_scale])
    _check(path[1:], [v.pathwise_log_scale])


def test_estimator_stats():
    scale, n, repeats = jnp.array([0.8, 1.2]), 10, 2000
    params, f = [MEAN, jnp.log(scale)], functools.partial(dg.quadratic_cost, k=K)
    ref = dg.quadratic_reference(K, MEAN, scale)

    def estimate(key):
        return [j.mean(0) for j in est.pathwise_jacobians(f, params, est.multi_normal, key, n)]

    stats = dg.estimator_stats(estimate, key=jax.random.key(4), num_repeats=repeats,
                               reference=[ref.d_mean, ref.d_log_scale])
    assert [m.shape for m in stats.mean] == [(2,), (2,)]
    for bias, se in zip(stats.bias, stats.stderr, strict=True):
        assert jnp.all(jnp.abs(bias) < 5.0 * se)
    # Variance of a mean of n single-sample estimates: closed form / n, within ~10%.
    v = dg.quadratic_variances(K, MEAN, scale)
    assert jnp.allclose(stats.variance[0], v.pathwise_mean / n, rtol=0.15)
    assert jnp.allclose(stats.snr[0], jnp.abs(stats.mean[0]) / jnp.sqrt(stats.variance[0]))
    assert dg.estimator_stats(estimate, key=jax.random.key(5), num_repeats=4).bias is None


def test_estimator_stats_in_chunks_gives_the_same_statistics():
    scale = jnp.array([0.8, 1.2])
    params, f = [MEAN, jnp.log(scale)], functools.partial(dg.quadratic_cost, k=K)

    def estimate(key):
        return [j.mean(0) for j in est.score_function_jacobians(f, params, est.multi_normal,
                                                                key, 3)]

    kw = {"key": jax.random.key(6), "num_repeats": 50}
    whole = dg.estimator_stats(estimate, **kw)
    # 50 draws in chunks of 16: three full chunks and a remainder of 2.
    chunked = dg.estimator_stats(estimate, batch_size=16, **kw)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(chunked), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    assert float(jnp.max(whole.variance[0])) > 1.0  # not trivially equal: the draws vary
    with pytest.raises(ValueError, match="batch_size"):
        dg.estimator_stats(estimate, batch_size=0, **kw)
