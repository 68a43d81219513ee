"""Surrogate losses: value is f, gradient is the score-function (or hybrid) estimator."""
import jax
import jax.numpy as jnp
import pytest

from rgrad import control_variates as cvs
from rgrad import diagnostics as dg
from rgrad import estimators as est
from rgrad import surrogate as sg

MEAN = jnp.array([0.5, -1.0])
PARAMS = [MEAN, jnp.log(jnp.array([0.8, 1.2]))]
K = jnp.array([0.3, 0.5])


def _f(x):
    return dg.quadratic_cost(x, K)


def test_surrogate_gradient_is_score_function_estimator():
    key, n = jax.random.key(0), 4000
    x = jax.lax.stop_gradient(est.draw_samples(PARAMS, est.multi_normal, key, n))  # [N, D]
    fx = jax.vmap(_f)(x)  # [N]

    def loss(params, surrogate):
        log_prob = jax.vmap(est.multi_normal(*params).log_prob)(x)
        return jnp.mean(surrogate(fx, log_prob))

    jacs = est.score_function_jacobians(_f, PARAMS, est.multi_normal, key, n)
    for surrogate in (sg.score_function_surrogate, sg.dice_surrogate):
        value, grads = jax.value_and_grad(loss)(PARAMS, surrogate)
        assert [g.shape for g in grads] == [p.shape for p in PARAMS]
        assert jnp.allclose(value, fx.mean(), rtol=1e-6)
        for g, j in zip(grads, jacs, strict=True):
            assert jnp.allclose(g, j.mean(0), rtol=1e-4, atol=1e-4)
    # The surrogate's mean value estimates E f.
    mean, se = dg.jacobian_mean_and_stderr(fx)
    assert abs(mean - dg.quadratic_reference(K, *PARAMS[:1], jnp.exp(PARAMS[1])).value) < 5 * se


def test_hybrid_surrogate_is_unbiased():
    """z ~ N(m1, s1) reparameterized, x ~ N(m2, s2) score-function, f = (z + x - k)^2."""
    m, s, k = jnp.array([0.4, -0.2]), jnp.array([0.5, 0.9]), 1.0
    batches, per = 4000, 4

    def batch_grad(key):
        def loss(mu):
            eps = jax.random.normal(key, (per, 2))  # [P, 2]
            z = mu[0] + s[0] * eps[:, 0]  # reparameterized
            x = jax.lax.stop_gradient(mu[1] + s[1] * eps[:, 1])  # score-function site
            log_q = -0.5 * jnp.square((x - mu[1]) / s[1])
            f = jnp.square(z + x - k)
            return jnp.mean(sg.score_function_surrogate(f, log_q, cvs.leave_one_out_baseline(f)))
        return jax.grad(loss)(m)

    grads = jax.jit(jax.vmap(batch_grad))(jax.random.split(jax.random.key(1), batches))
    truth = 2.0 * (jnp.sum(m) - k) * jnp.ones(2)
    mean, se = dg.jacobian_mean_and_stderr(grads)
    assert grads.shape == (batches, 2)
    assert jnp.all(jnp.abs(mean - truth) < 5.0 * se), (mean, truth, se)


def test_magic_box_and_bad_input():
    assert float(sg.magic_box(jnp.array(3.0))) == 1.0
    assert float(jax.grad(lambda t: sg.magic_box(t**2))(3.0)) == 6.0
    with pytest.raises(ValueError, match="log_prob"):
        sg.score_function_surrogate(jnp.ones(3), jnp.ones((3, 2)))
