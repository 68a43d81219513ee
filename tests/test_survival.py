"""Survival: censored likelihood and its MC gradient, lifelines agreement, variance figure."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from configs import survival as cfg
from configs.figures import survival_censoring as fig_cfg
from experiments import registry
from experiments.figures import survival_censoring
from experiments.tasks import survival as survival_task
from rgrad import survival, train


def test_truncated_normal_draws_follow_the_conditional_law():
    mu, sigma, lower = 0.5, 2.0, 1.7
    y = survival.truncated_normal_above(jnp.full((20000,), mu), jnp.full((20000,), sigma),
                                        jnp.full((20000,), lower), key=jax.random.key(0))
    a = (lower - mu) / sigma
    assert float(y.min()) >= lower
    assert stats.kstest(np.asarray((y - mu) / sigma), stats.truncnorm(a, np.inf).cdf).pvalue > 1e-3


def test_imputation_gradient_is_unbiased_for_the_censored_loglik():
    log_t = jnp.array([1.0, 2.0, 0.5, 3.0])
    event = jnp.array([True, False, False, True])
    mu, sigma = jnp.array([1.5, 1.0, 0.0, 2.0]), jnp.array([0.8, 1.2, 0.5, 1.0])

    def exact(m, s):
        return jnp.sum(survival.lognormal_loglik(log_t, event, m, s))

    def mc(m, s, key):
        return jnp.sum(survival.imputation_surrogate(log_t, event, m, s, key=key))

    g_exact = jax.grad(exact, (0, 1))(mu, sigma)
    g = jax.jit(jax.vmap(lambda k: jax.grad(mc, (0, 1))(mu, sigma, k)))(
        jax.random.split(jax.random.key(1), 20000))
    for ge, gm in zip(g_exact, g, strict=True):
        se = np.asarray(gm.std(0)) / np.sqrt(gm.shape[0]) + 1e-7
        assert np.all(np.abs(np.asarray(gm.mean(0) - ge)) < 5 * se)
        # Failures (subjects 0 and 3) have exact, noiseless gradients.
        np.testing.assert_allclose(gm.std(0)[jnp.array([0, 3])], 0.0, atol=1e-5)


def test_fit_matches_lifelines_mle(tmp_path):
    c = cfg.get_config()
    c.artifacts = False
    m = train.train_and_evaluate(c, tmp_path, task=registry.make_task(c),
                                 progress=False)["members"][0]["metrics"]
    # The MC-gradient fit must agree with Newton's MLE far within the sampling uncertainty.
    assert m["max_z_vs_lifelines"] < 0.25, m


def test_figure_variance_grows_with_censoring(tmp_path):
    n = survival_censoring.make(fig_cfg.get_config("quick"), tmp_path).numbers
    assert n["var_f0.00"] < 1e-6  # no censored subject, no Monte Carlo noise
    assert n["var_f0.80"] - n["var_f0.20"] > 5 * (n["se_f0.80"] + n["se_f0.20"])
    assert n["var_f0.80"] > 2.5 * n["var_f0.20"]  # ~4x if linear in f
    assert (tmp_path / "survival_censoring.png").exists()


def test_gradient_variances_are_those_of_the_draws():
    d = survival_task.load_rossi()
    c = cfg.get_config("quick")
    c.compare_lifelines = False
    task = survival_task.SurvivalTask(c, d)
    params, _ = task.init(jax.random.key(0))
    kw = {"key": jax.random.key(3), "num_keys": 16}
    stats = survival_task.gradient_variances(task, params, task.data, **kw)
    d = jax.tree.map(jnp.asarray, task.data)

    def one(k):  # the same draws, by hand
        g = jax.grad(task.surrogate)(params, d, k)
        return jnp.concatenate([g["beta"], g["b"][None], g["log_sigma"][None]])

    draws = np.asarray(jax.vmap(one)(jax.random.split(kw["key"], kw["num_keys"])))
    np.testing.assert_allclose(stats.variance, draws.var(0, ddof=1), rtol=1e-5)
    assert stats.variance.shape == (9,)
