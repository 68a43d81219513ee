"""Unbiasedness (|MC mean - truth| < 5 SE), shapes and bad input for rgrad.estimators."""
import functools

import distrax
import jax
import jax.numpy as jnp
import pytest

from rgrad import diagnostics as dg
from rgrad import estimators as est

MEAN = jnp.array([0.5, -1.0, 0.3])
SCALE = jnp.array([0.8, 1.2, 0.5])
PARAMS = [MEAN, jnp.log(SCALE)]
COSTS = {
    "linear": (dg.linear_cost, dg.linear_reference, jnp.array([1.0, -2.0, 0.5])),
    "quadratic": (dg.quadratic_cost, dg.quadratic_reference, jnp.array([0.3, 0.5, -0.2])),
    "weighted_quadratic": (dg.weighted_quadratic_cost, dg.weighted_quadratic_reference,
                           jnp.array([1.0, 0.5, 2.0])),
    "cos": (dg.cos_cost, dg.cos_reference, jnp.array([1.0, 0.7, 1.5])),
}
ESTIMATORS = {
    "pathwise": est.pathwise_jacobians,
    "score_function": est.score_function_jacobians,
    "measure_valued": est.measure_valued_jacobians,
}
NUM_SAMPLES = {"pathwise": 10_000, "score_function": 50_000, "measure_valued": 20_000}


@pytest.mark.parametrize("cost_name", list(COSTS))
@pytest.mark.parametrize("est_name", list(ESTIMATORS))
def test_unbiased_on_closed_forms(est_name, cost_name):
    cost, reference, coef = COSTS[cost_name]
    f = functools.partial(cost, **{"a" if cost_name == "linear" else
                                   "w" if cost_name == "weighted_quadratic" else "k": coef})
    n = NUM_SAMPLES[est_name]
    jac_fn = jax.jit(ESTIMATORS[est_name], static_argnums=(0, 2, 4))
    jacs = jac_fn(f, PARAMS, est.multi_normal, jax.random.key(1), n)
    # Shapes first.
    assert len(jacs) == 2
    assert jacs[0].shape == (n, 3) and jacs[1].shape == (n, 3)
    ref = reference(coef, MEAN, SCALE)
    for jac, truth in zip(jacs, [ref.d_mean, ref.d_log_scale], strict=True):
        mean, se = dg.jacobian_mean_and_stderr(jac)
        # Floor the SE so zero-variance cases (pathwise on linear) compare at float precision.
        tol = 5.0 * se + 1e-5 * (1.0 + jnp.abs(truth))
        assert jnp.all(jnp.abs(mean - truth) < tol), (mean, truth, se)


def test_jit_matches_eager_and_samples_are_shared():
    f = functools.partial(dg.quadratic_cost, k=jnp.zeros(3))
    key = jax.random.key(3)
    eager = est.pathwise_jacobians(f, PARAMS, est.multi_normal, key, 7)
    jitted = jax.jit(est.pathwise_jacobians, static_argnums=(0, 2, 4))(
        f, PARAMS, est.multi_normal, key, 7)
    assert jnp.allclose(eager[0], jitted[0], atol=1e-5)
    # d/dmean of sum x^2 is 2 x: the pathwise Jacobian reveals the samples draw_samples returns.
    x = est.draw_samples(PARAMS, est.multi_normal, key, 7)
    assert x.shape == (7, 3)
    assert jnp.allclose(eager[0], 2.0 * x, atol=1e-5)


def test_coupling_reduces_measure_valued_variance_and_both_are_unbiased():
    k = jnp.zeros(3)
    f = functools.partial(dg.quadratic_cost, k=k)
    ref = dg.quadratic_reference(k, MEAN, SCALE)
    key = jax.random.key(4)
    mvd = jax.jit(est.measure_valued_jacobians, static_argnums=(0, 2, 4, 5))
    coupled = mvd(f, PARAMS, est.multi_normal, key, 5000, True)
    uncoupled = mvd(f, PARAMS, est.multi_normal, key, 5000, False)
    for c, u, truth in zip(coupled, uncoupled, [ref.d_mean, ref.d_log_scale], strict=True):
        assert jnp.all(jnp.var(c, axis=0) < jnp.var(u, axis=0))
        for jac in (c, u):
            mean, se = dg.jacobian_mean_and_stderr(jac)
            assert jnp.all(jnp.abs(mean - truth) < 5.0 * se)


@pytest.mark.parametrize("estimator", [est.pathwise_jacobians, est.score_function_jacobians,
                                       est.measure_valued_jacobians])
def test_bad_input(estimator):
    f = functools.partial(dg.quadratic_cost, k=jnp.zeros(3))
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="log_scale"):
        estimator(f, [MEAN, jnp.zeros(2)], est.multi_normal, key, 10)
    for bad_n in (0, -3):
        with pytest.raises(ValueError, match="num_samples"):
            estimator(f, PARAMS, est.multi_normal, key, bad_n)
    with pytest.raises(ValueError, match="params"):
        estimator(f, [], est.multi_normal, key, 10)


def test_measure_valued_rejects_other_distributions():
    f = functools.partial(dg.quadratic_cost, k=jnp.zeros(3))
    builder = lambda loc, scale: distrax.MultivariateNormalDiag(loc, scale)
    with pytest.raises(ValueError, match="dist_builder.*multi_normal"):
        est.measure_valued_jacobians(f, [MEAN, SCALE], builder, jax.random.key(0), 10)
