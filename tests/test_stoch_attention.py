"""Stochastic attention: the KL in closed form, the sampler's moments, the quick run end to end."""

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import stoch_attention as sa_config
from experiments.tasks import stoch_attention as sa
from rgrad import train


def test_gaussian_kl_tril_matches_distrax():
    mu = jnp.array([0.3, -1.0, 2.0])
    tril = jnp.array([[0.5, 0.0, 0.0], [0.2, 1.5, 0.0], [-0.4, 0.1, 0.8]])
    want = distrax.MultivariateNormalTri(mu, tril).kl_divergence(
        distrax.MultivariateNormalDiag(jnp.zeros(3), 3.0 * jnp.ones(3)))
    assert float(sa.gaussian_kl_tril(mu, tril, 3.0)) == pytest.approx(float(want), rel=1e-5)


def test_attention_weights_are_logistic_normal_draws():
    c = sa_config.get_config("quick")
    model = sa.RowAttention(c.model.hidden, c.model.init_log_scale)
    x = jax.random.uniform(jax.random.key(0), (784,))
    params = model.init(jax.random.key(1), x)
    _, mu = model.apply(params, x, method=sa.RowAttention.features)
    tril = model.apply(params, method=sa.RowAttention.scale_tril)
    n = 4000
    w = jax.jit(jax.vmap(lambda k: model.apply(params, x, k)[1]))(
        jax.random.split(jax.random.key(2), n))
    assert w.shape == (n, sa.T)
    np.testing.assert_allclose(np.asarray(w.sum(-1)), 1.0, rtol=1e-5)
    # log(w_t / w_0) = z_t - z_0 is Gaussian with mean mu_t - mu_0 and variance
    # |L_t - L_0|^2 (rows of L): check mean and variance within 5 SE for every t.
    r = np.asarray(jnp.log(w[:, 1:]) - jnp.log(w[:, :1]))
    mean = np.asarray(mu[1:] - mu[0])
    var = np.asarray(jnp.sum((tril[1:] - tril[:1]) ** 2, -1))
    assert np.all(np.abs(r.mean(0) - mean) < 5 * np.sqrt(var / n))
    assert np.all(np.abs(r.var(0) - var) < 5 * var * np.sqrt(2 / (n - 1)))


def test_quick_config_end_to_end(tmp_path):
    c = sa_config.get_config("quick")
    out = train.train_and_evaluate(c, tmp_path, task=sa.make_task(c), progress=False)
    m = out["members"][0]["metrics"]
    # 300 steps on 5000 digits with the full ELBO (kl_weight 1): measured 0.40; chance 0.1.
    assert m["test_acc_mean_attention"] > 0.25
    assert m["test_acc_predictive"] > 0.25
    assert 0.0 < m["test_kl"] < 100.0
