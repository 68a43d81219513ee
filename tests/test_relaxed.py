"""Tests for rgrad.relaxed: Concrete / Gumbel-Softmax and binary Concrete distributions."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from rgrad.relaxed import GumbelSoftmax, RelaxedBernoulli, straight_through

N = 4000
KEY = jax.random.key(3)
LOGITS = jnp.array([1.0, -0.5, 0.2])


def _assert_mc(per_sample, truth, k=5.0, floor=1e-6):
    per_sample = np.asarray(per_sample, np.float64)
    mean, se = per_sample.mean(0), per_sample.std(0, ddof=1) / np.sqrt(per_sample.shape[0])
    np.testing.assert_array_less(np.abs(mean - np.asarray(truth)), k * se + floor)


def test_shapes():
    # eval_shape: shapes without compiling anything.
    d = GumbelSoftmax(jnp.zeros((2, 3)), jnp.array([0.5, 1.0]))
    assert d.batch_shape == (2,) and d.event_shape == (3,)
    assert jax.eval_shape(lambda: d.sample(seed=KEY, sample_shape=(4, 5))).shape == (4, 5, 2, 3)
    x, lp = jax.eval_shape(lambda: d.sample_and_log_prob(seed=KEY, sample_shape=7))
    assert x.shape == (7, 2, 3) and lp.shape == (7, 2)
    assert jax.eval_shape(d.log_prob, x).shape == (7, 2)
    b = RelaxedBernoulli(jnp.zeros((2, 3)), 0.5)
    assert b.batch_shape == (2, 3) and b.event_shape == ()
    y, lp = jax.eval_shape(lambda: b.sample_and_log_prob(seed=KEY, sample_shape=(4,)))
    assert y.shape == (4, 2, 3) and lp.shape == (4, 2, 3)


def test_gumbel_softmax_ks():
    # tau * log(x_0 / x_1) - (l_0 - l_1) = G_0 - G_1 ~ Logistic(0, 1).
    tau = 0.7
    x = GumbelSoftmax(LOGITS, tau).sample(seed=KEY, sample_shape=N)
    np.testing.assert_allclose(x.sum(-1), 1.0, atol=1e-5)
    stat = tau * jnp.log(x[:, 0] / x[:, 1]) - (LOGITS[0] - LOGITS[1])
    assert stats.kstest(np.asarray(stat), stats.logistic.cdf).pvalue > 1e-3


def test_relaxed_bernoulli_ks():
    # logit(y) = (l + L) / tau ~ Logistic(l / tau, 1 / tau).
    tau, logit = 0.7, 0.4
    y = RelaxedBernoulli(logit, tau).sample(seed=KEY, sample_shape=N)
    z = np.log(np.asarray(y, np.float64)) - np.log1p(-np.asarray(y, np.float64))
    assert stats.kstest(z, stats.logistic(logit / tau, 1 / tau).cdf).pvalue > 1e-3


def test_low_temperature_is_categorical():
    x = GumbelSoftmax(LOGITS, 0.01).sample(seed=KEY, sample_shape=N)
    assert np.median(x.max(-1)) > 0.999
    _assert_mc(x, jax.nn.softmax(LOGITS))  # E[x] -> class probabilities
    y = RelaxedBernoulli(LOGITS, 0.01).sample(seed=KEY, sample_shape=N)
    assert np.median(np.minimum(y, 1 - y)) < 1e-3
    _assert_mc(y, jax.nn.sigmoid(LOGITS))


def test_high_temperature_is_uniform_and_forgets_logits():
    d1, d2 = GumbelSoftmax(LOGITS, 1e3), GumbelSoftmax(jnp.zeros(3), 1e3)
    x1, x2 = d1.sample(seed=KEY, sample_shape=N), d2.sample(seed=KEY, sample_shape=N)
    assert np.max(np.abs(x1 - 1 / 3)) < 0.02
    # Mean shift from the logits is (l - mean(l)) / (K tau) ~ 3e-4; it must be negligible.
    np.testing.assert_allclose(x1.mean(0), x2.mean(0), atol=1e-3)
    b1, b2 = RelaxedBernoulli(2.0, 1e3), RelaxedBernoulli(-2.0, 1e3)
    y1, y2 = b1.sample(seed=KEY, sample_shape=N), b2.sample(seed=KEY, sample_shape=N)
    assert np.max(np.abs(y1 - 0.5)) < 0.02
    np.testing.assert_allclose(y1.mean(), y2.mean(), atol=2e-3)


@pytest.mark.parametrize("tau,logit", [(0.7, 0.5), (1.0, -1.0), (3.0, 2.0)])
def test_binary_concrete_integrates_to_one(tau, logit):
    # Trapezoid rule in logit space, y = sigmoid(t), dy = y (1 - y) dt.
    t = jnp.linspace(-16.0, 16.0, 8001)
    y = jax.nn.sigmoid(t)
    dens = jnp.exp(RelaxedBernoulli(logit, tau).log_prob(y)) * y * (1 - y)
    assert abs(float(jnp.trapezoid(dens, t)) - 1.0) < 1e-3


def test_concrete_log_prob_matches_formula():
    tau = 0.6
    x = np.asarray(GumbelSoftmax(LOGITS, tau).sample(seed=KEY, sample_shape=20), np.float64)
    pi = np.exp(np.asarray(LOGITS, np.float64))
    k = 3
    dens = (math.factorial(k - 1) * tau ** (k - 1) * np.prod(pi * x ** (-tau - 1), -1)
            / np.sum(pi * x ** (-tau), -1) ** k)
    np.testing.assert_allclose(GumbelSoftmax(LOGITS, tau).log_prob(x), np.log(dens), rtol=1e-4,
                               atol=1e-4)
    y = np.asarray(RelaxedBernoulli(0.3, tau).sample(seed=KEY, sample_shape=20), np.float64)
    p = np.exp(0.3)
    dens = (tau * p * y ** (-tau - 1) * (1 - y) ** (-tau - 1)
            / (p * y ** (-tau) + (1 - y) ** (-tau)) ** 2)
    np.testing.assert_allclose(RelaxedBernoulli(0.3, tau).log_prob(y), np.log(dens), rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("cls", [GumbelSoftmax, RelaxedBernoulli])
def test_sample_and_log_prob_consistent(cls):
    dist = cls(LOGITS, 1.0)
    x, lp = dist.sample_and_log_prob(seed=KEY, sample_shape=50)
    np.testing.assert_allclose(lp, dist.log_prob(x), rtol=1e-3, atol=1e-3)
    # At low temperature x rounds to exact 0s/1s; the log-space path must stay finite.
    _, lp = cls(LOGITS, 0.01).sample_and_log_prob(seed=KEY, sample_shape=50)
    assert np.all(np.isfinite(lp))


@pytest.mark.parametrize("cls", [GumbelSoftmax, RelaxedBernoulli])
def test_straight_through(cls):
    w = jnp.array([0.3, -1.2, 2.0])

    def loss(logits, st):
        x = cls(logits, 0.5, straight_through=st).sample(seed=KEY, sample_shape=8)
        return jnp.sum(x * jnp.broadcast_to(w, x.shape)), x

    (_, hard), g_hard = jax.value_and_grad(loss, has_aux=True)(LOGITS, True)
    (_, soft), g_soft = jax.value_and_grad(loss, has_aux=True)(LOGITS, False)
    assert set(np.unique(hard).tolist()) <= {0.0, 1.0}
    if cls is GumbelSoftmax:
        np.testing.assert_array_equal(hard.sum(-1), 1.0)
        np.testing.assert_array_equal(jnp.argmax(hard, -1), jnp.argmax(soft, -1))
    else:
        np.testing.assert_array_equal(hard, (soft > 0.5).astype(soft.dtype))
    np.testing.assert_allclose(g_hard, g_soft, rtol=1e-6)
    assert np.any(g_soft != 0)
    np.testing.assert_array_equal(straight_through(jnp.array([0.2, 0.5, 0.3])), [0.0, 1.0, 0.0])


def test_jit_vmap_grad():
    def f(logits, tau, key):
        x, lp = GumbelSoftmax(logits, tau).sample_and_log_prob(seed=key)
        return x[0] + lp

    keys = jax.random.split(KEY, 5)
    g = jax.jit(jax.vmap(jax.grad(f, argnums=(0, 1)), in_axes=(None, None, 0)))(LOGITS, 0.5, keys)
    assert g[0].shape == (5, 3) and g[1].shape == (5,)
    g0 = jax.grad(f, argnums=(0, 1))(LOGITS, 0.5, keys[0])
    np.testing.assert_allclose(g[0][0], g0[0], rtol=1e-4, atol=1e-5)
    # A distribution is a pytree: it can be passed through jit.
    d = RelaxedBernoulli(LOGITS, 0.5)
    np.testing.assert_allclose(jax.jit(lambda d: d.log_prob(jnp.full(3, 0.3)))(d),
                               d.log_prob(jnp.full(3, 0.3)), rtol=1e-6)


@pytest.mark.parametrize("fn,name", [
    (lambda: GumbelSoftmax(LOGITS, 0.0), "temperature"),
    (lambda: GumbelSoftmax(LOGITS, -1.0), "temperature"),
    (lambda: RelaxedBernoulli(0.0, jnp.array([1.0, -2.0])), "temperature"),
    (lambda: GumbelSoftmax(1.0, 1.0), "logits"),
    (lambda: GumbelSoftmax(jnp.zeros((2, 3)), jnp.ones(3)), "temperature.shape"),
    (lambda: RelaxedBernoulli(jnp.zeros(2), jnp.ones(3)), "temperature.shape"),
])
def test_bad_input_raises(fn, name):
    with pytest.raises(ValueError, match=name):
        fn()
