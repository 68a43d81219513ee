"""The old `optax.monte_carlo` call forms on rgrad's functional estimators and control variates.

Code written for optax <= 0.2.6 calls `dist.sample(shape, key)` on `multi_normal`'s result and
keeps the moving-average baseline's state as a `(value, count)` pair that starts at `(0.0, 0)`.
These tests use those forms verbatim; the rgrad forms' numbers are checked elsewhere
(test_control_variates, test_estimators) and must not move.
"""
import functools

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rgrad import control_variates as cvs
from rgrad import diagnostics as dg
from rgrad import estimators as est

MEAN = jnp.array([1.5, -1.0, 0.8])
SCALE = jnp.array([0.5, 0.7, 0.3])
PARAMS = [MEAN, jnp.log(SCALE)]
K = jnp.array([0.2, 0.4, -0.3])
QUAD = functools.partial(dg.quadratic_cost, k=K)
KEY = jax.random.key(0)

# optax's tests jit control_variates_jacobians with the cv state static (hashable (0.0, 0)).
optax_cv_jacobians = jax.jit(cvs.control_variates_jacobians,
                             static_argnums=(0, 1, 2, 4, 6, 7, 8))


# ------------------------------------------------------------------------- multi_normal


def test_multi_normal_positional_sample_is_the_distrax_sample():
    dist = est.multi_normal(*PARAMS)
    assert isinstance(dist, distrax.MultivariateNormalDiag)
    ours = dist.sample((7,), KEY)  # optax: sample(shape, key)
    assert ours.shape == (7, 3)
    np.testing.assert_array_equal(ours, dist.sample(seed=KEY, sample_shape=(7,)))
    np.testing.assert_array_equal(ours, dist.sample((7,), key=KEY))
    # (vmap: distrax's batched log_prob trips the suite's strict rank promotion)
    assert jax.vmap(dist.log_prob)(ours).shape == (7,)
    np.testing.assert_array_equal(dist.log_scale, PARAMS[1])
    for got, want in zip(dist.params, PARAMS, strict=True):
        np.testing.assert_array_equal(got, want)


def test_multi_normal_positional_sample_has_the_right_moments():
    n = 20_000
    x = np.asarray(est.multi_normal(*PARAMS).sample((n,), KEY), np.float64)  # [N, D]
    se_mean = np.asarray(SCALE) / np.sqrt(n)
    np.testing.assert_array_less(np.abs(x.mean(0) - np.asarray(MEAN)), 5 * se_mean)
    # Var of the sample variance of a Gaussian is 2 sigma^4 / (n - 1).
    se_var = np.sqrt(2.0 / (n - 1)) * np.asarray(SCALE) ** 2
    np.testing.assert_array_less(np.abs(x.var(0, ddof=1) - np.asarray(SCALE) ** 2), 5 * se_var)


def test_multi_normal_under_jit_and_vmap_in_optax_form():
    sample = jax.jit(lambda m, s, k: est.multi_normal(m, s).sample((4,), k))
    np.testing.assert_allclose(sample(*PARAMS, KEY), est.multi_normal(*PARAMS).sample((4,), KEY),
                               rtol=1e-6)
    means = jnp.stack([MEAN, MEAN + 1.0])
    x = jax.vmap(lambda m: est.multi_normal(m, PARAMS[1]).sample((4,), KEY))(means)
    np.testing.assert_allclose(x[1] - x[0], 1.0, atol=1e-6)  # same noise, shifted mean


@pytest.mark.parametrize("call", [
    lambda d: d.sample((3,)),
    lambda d: d.sample(key=KEY),
    lambda d: d.sample((3,), KEY, seed=KEY),
    lambda d: d.sample(),
])
def test_multi_normal_sample_rejects_mixed_or_missing_arguments(call):
    with pytest.raises(ValueError, match="sample"):
        call(est.multi_normal(*PARAMS))


# --------------------------------------------------------- moving average, optax state


def test_moving_avg_state_pair_arithmetic():
    f = lambda x: jnp.sum(x)
    x = est.multi_normal(*PARAMS).sample((50,), KEY)  # [N, D]
    m = float(jnp.mean(jax.vmap(f)(x)))
    d = 0.9
    cv, expected_cv, update = cvs.moving_avg_baseline(
        f, decay=d, zero_debias=False, use_decay_early_training_heuristic=False)
    value, count = update(PARAMS, x, (jnp.array(2.0), 0))
    assert count == 1
    np.testing.assert_allclose(value, d * 2.0 + (1 - d) * m, rtol=1e-6)
    # The value is read back as is, by both the cv and its expectation.
    assert float(cv(PARAMS, x[0], (value, count))) == float(value)
    assert float(expected_cv(PARAMS, (value, count))) == float(value)


def test_moving_avg_state_pair_heuristic_decays():
    f = lambda x: jnp.sum(x)
    x = est.multi_normal(*PARAMS).sample((50,), KEY)
    m = float(jnp.mean(jax.vmap(f)(x)))
    update = cvs.moving_avg_baseline(f, decay=0.99, zero_debias=False)[2]
    # min(decay, (1 + i) / (10 + i)): 0.1 at count 0, 2 / 11 at count 1.
    np.testing.assert_allclose(update(PARAMS, x, (jnp.array(2.0), 0))[0], 0.1 * 2.0 + 0.9 * m,
                               rtol=1e-6)
    np.testing.assert_allclose(update(PARAMS, x, (jnp.array(2.0), 1))[0],
                               2 / 11 * 2.0 + 9 / 11 * m, rtol=1e-6)


def test_moving_avg_state_pair_stores_the_debiased_value():
    f = lambda x: jnp.float32(3.0) + 0.0 * jnp.sum(x)  # constant input v = 3
    x = est.multi_normal(*PARAMS).sample((10,), KEY)
    d = 0.9
    update = cvs.moving_avg_baseline(f, decay=d, use_decay_early_training_heuristic=False)[2]
    state = update(PARAMS, x, (0.0, 0))
    np.testing.assert_allclose(state[0], 3.0, rtol=1e-6)  # first step: exactly debiased
    state = update(PARAMS, x, state)
    # optax divides the stored (already divided) value again: v / (1 - d^2), not v.
    np.testing.assert_allclose(state[0], 3.0 / (1 - d**2), rtol=1e-5)
    assert state[1] == 2
    # rgrad's own state form debiases once and returns v: the two forms really differ.
    cv, _, update_rgrad = cvs.moving_avg_baseline(f, decay=d,
                                                   use_decay_early_training_heuristic=False)
    rgrad_state = update_rgrad(PARAMS, x, update_rgrad(PARAMS, x, None))
    np.testing.assert_allclose(cv(PARAMS, x[0], rgrad_state), 3.0, rtol=1e-6)


# ------------------------------------------------- control variates in optax's signature


def _assert_unbiased(jacs, ref):
    for jac, truth in zip(jacs, [ref.d_mean, ref.d_log_scale], strict=True):
        mean, se = dg.jacobian_mean_and_stderr(jac)
        assert jnp.all(jnp.abs(mean - truth) < 5.0 * se + 1e-4), (mean, truth, se)


def test_control_variates_jacobians_with_optax_state_and_static_args():
    n = 4000
    ref = dg.quadratic_reference(K, MEAN, SCALE)
    jacs, state = optax_cv_jacobians(QUAD, cvs.moving_avg_baseline,
                                     est.score_function_jacobians, PARAMS, est.multi_normal,
                                     KEY, n, (0.0, 0), False)
    assert [j.shape for j in jacs] == [(n, 3), (n, 3)]
    value, count = state
    assert count == 1 and value.shape == ()
    # Then the optax loop: the state goes back in, as a traced pair.
    step = jax.jit(cvs.control_variates_jacobians, static_argnums=(0, 1, 2, 4, 6, 8, 9))
    for i in range(3):
        jacs, state = step(QUAD, cvs.moving_avg_baseline, est.score_function_jacobians,
                           PARAMS, est.multi_normal, jax.random.key(i + 1), n, state, False)
    assert int(state[1]) == 4
    np.testing.assert_allclose(state[0], ref.value, rtol=0.05)  # tracks E[f] (heuristic decay)
    _assert_unbiased(jacs, ref)
    with pytest.raises(AssertionError):  # the check has the power to see a 20% error
        _assert_unbiased(jacs, ref._replace(d_mean=1.2 * ref.d_mean,
                                            d_log_scale=1.2 * ref.d_log_scale))
    plain = est.score_function_jacobians(QUAD, PARAMS, est.multi_normal, jax.random.key(9), n)
    for p, c in zip(plain, jacs, strict=True):  # the baseline cuts the variance
        assert jnp.sum(jnp.var(c, axis=0)) < 0.5 * jnp.sum(jnp.var(p, axis=0))


def test_estimate_coefficients_in_optax_signature():
    estimate = jax.jit(cvs.estimate_control_variate_coefficients, static_argnums=(0, 1, 2, 4, 6))
    coeffs = estimate(
        QUAD, cvs.control_delta_method, est.pathwise_jacobians, PARAMS, est.multi_normal, KEY,
        100, None, 1e-3)
    # The delta method is exact on a quadratic, so the optimal coefficient is 1.
    assert len(coeffs) == 2
    np.testing.assert_allclose(jnp.stack(coeffs), 1.0, atol=1e-3)
