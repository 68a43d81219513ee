"""Control variates keep the mean (vs closed forms, independent keys) and cut variance."""
import functools

import jax
import jax.numpy as jnp
import pytest

from rgrad import control_variates as cvs
from rgrad import diagnostics as dg
from rgrad import estimators as est

MEAN = jnp.array([1.5, -1.0, 0.8])
SCALE = jnp.array([0.5, 0.7, 0.3])
PARAMS = [MEAN, jnp.log(SCALE)]
K = jnp.array([0.2, 0.4, -0.3])
QUAD = functools.partial(dg.quadratic_cost, k=K)
COS = functools.partial(dg.cos_cost, k=jnp.array([1.0, 0.7, 1.5]))

cv_jacobians = jax.jit(cvs.control_variates_jacobians, static_argnums=(0, 1, 2, 4, 6, 8, 9))


def _assert_unbiased(jacs, ref):
    for jac, truth in zip(jacs, [ref.d_mean, ref.d_log_scale], strict=True):
        mean, se = dg.jacobian_mean_and_stderr(jac)
        assert jnp.all(jnp.abs(mean - truth) < 5.0 * se + 1e-4), (mean, truth, se)


@pytest.mark.parametrize("estimator", [est.score_function_jacobians, est.pathwise_jacobians])
def test_delta_method_is_exact_on_quadratic(estimator):
    jacs, state = cv_jacobians(QUAD, cvs.control_delta_method, estimator, PARAMS,
                               est.multi_normal, jax.random.key(0), 2000)
    assert state is None
    assert [j.shape for j in jacs] == [(2000, 3), (2000, 3)]
    ref = dg.quadratic_reference(K, MEAN, SCALE)
    for jac, truth in zip(jacs, [ref.d_mean, ref.d_log_scale], strict=True):
        assert jnp.max(jnp.var(jac, axis=0)) < 1e-6
        assert jnp.allclose(jac.mean(0), truth, atol=1e-3)


def test_delta_method_with_estimated_coeffs_on_cos():
    n = 20_000
    plain = est.score_function_jacobians(COS, PARAMS, est.multi_normal, jax.random.key(1), n)
    jacs, _ = cv_jacobians(COS, cvs.control_delta_method, est.score_function_jacobians, PARAMS,
                           est.multi_normal, jax.random.key(2), n, None, True, 200)
    _assert_unbiased(jacs, dg.cos_reference(jnp.array([1.0, 0.7, 1.5]), MEAN, SCALE))
    for p, c in zip(plain, jacs, strict=True):
        assert jnp.all(jnp.var(c, axis=0) < 0.1 * jnp.var(p, axis=0))


def test_moving_average_pure_functions():
    state = cvs.moving_average_init()
    assert float(cvs.moving_average_value(state)) == 0.0
    step = jax.jit(cvs.moving_average_update)
    for _ in range(5):
        state = step(state, jnp.array(3.0), 0.9)
    assert int(state.count) == 5
    assert jnp.allclose(cvs.moving_average_value(state), 3.0)
    assert float(cvs.moving_average_value(state, zero_debias=False)) < 3.0


def test_moving_avg_baseline_unbiased_and_reduces_score_function_variance():
    make_cv = functools.partial(cvs.moving_avg_baseline, decay=0.9)
    ref = dg.quadratic_reference(K, MEAN, SCALE)
    state, key = None, jax.random.key(3)
    for i in range(10):  # warm the baseline up, as training would
        _, state = cv_jacobians(QUAD, make_cv, est.score_function_jacobians, PARAMS,
                                est.multi_normal, jax.random.fold_in(key, i), 500, state)
    assert abs(float(cvs.moving_average_value(state)) - float(ref.value)) < 0.1 * ref.value
    n = 20_000
    jacs, _ = cv_jacobians(QUAD, make_cv, est.score_function_jacobians, PARAMS,
                           est.multi_normal, jax.random.key(4), n, state)
    plain = est.score_function_jacobians(QUAD, PARAMS, est.multi_normal, jax.random.key(5), n)
    _assert_unbiased(jacs, ref)
    for p, c in zip(plain, jacs, strict=True):
        assert jnp.all(jnp.var(c, axis=0) < 0.5 * jnp.var(p, axis=0))


def test_leave_one_out_baseline():
    f = jnp.array([1.0, 2.0, 6.0])
    assert jnp.allclose(cvs.leave_one_out_baseline(f), jnp.array([4.0, 3.5, 1.5]))
    with pytest.raises(ValueError, match="f_values"):
        cvs.leave_one_out_baseline(jnp.ones(1))
    # RLOO on batches of 4: unbiased, and lower variance than plain score function.
    batches, k = 5000, 4
    x = est.draw_samples(PARAMS, est.multi_normal, jax.random.key(6), batches * k)
    scores = jax.vmap(jax.grad(lambda m, x: est.multi_normal(m, PARAMS[1]).log_prob(x)),
                      in_axes=(None, 0))(MEAN, x)  # [B K, D]
    f = jax.vmap(QUAD)(x).reshape(batches, k)
    adv = (f - jax.vmap(cvs.leave_one_out_baseline)(f)).reshape(-1, 1)
    rloo, plain = adv * scores, f.reshape(-1, 1) * scores
    truth = dg.quadratic_reference(K, MEAN, SCALE).d_mean
    # SE from batch means, since the K terms within a batch are dependent.
    batch_means = rloo.reshape(batches, k, 3).mean(1)
    mean, se = dg.jacobian_mean_and_stderr(batch_means)
    assert jnp.all(jnp.abs(mean - truth) < 5.0 * se)
    assert jnp.all(jnp.var(rloo, axis=0) < 0.5 * jnp.var(plain, axis=0))


def test_estimated_coefficient_is_one_for_exact_cv():
    estimate = jax.jit(cvs.estimate_control_variate_coefficients,
                       static_argnums=(0, 1, 2, 4, 6))
    coeffs = estimate(QUAD, cvs.control_delta_method, est.score_function_jacobians, PARAMS,
                      est.multi_normal, jax.random.key(7), 500, None, 0.0)
    assert len(coeffs) == 2
    assert jnp.allclose(jnp.stack(coeffs), 1.0, atol=1e-3)


def test_bad_input():
    with pytest.raises(ValueError, match="num_samples"):
        cvs.control_variates_jacobians(QUAD, cvs.control_delta_method,
                                       est.score_function_jacobians, PARAMS, est.multi_normal,
                                       jax.random.key(0), 0)
