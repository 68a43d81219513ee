"""Categorical VAE: the quick config end to end, the temperature schedule, and the estimators'
gradients against the exact gradient by enumeration on a tiny model."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import categorical_vae as cvae_config
from experiments.tasks import categorical_vae as cvae
from rgrad import data as rdata
from rgrad import train


@pytest.fixture(scope="module")
def test_digits():
    return rdata.load("binarized_mnist", "test").images  # 10k rows: cheaper than the train set


def test_quick_config_end_to_end(tmp_path, test_digits):
    c = cvae_config.get_config("quick")
    task = cvae.make_task(c, arrays=(test_digits[:2048], test_digits[2048:2448]))
    out = train.train_and_evaluate(c, tmp_path, task=task, progress=False)
    m = out["members"][0]["metrics"]
    # 200 steps take the bound well below the 784 log 2 = 543 nats of a uniform decoder.
    assert 150 < m["test_neg_elbo"] < 400
    assert m["grad_var_encoder"] > 0 and np.isfinite(m["grad_var_encoder"])
    # Annealed every 50 steps: tau after step 199 is exp(-1e-3 * 150).
    np.testing.assert_allclose(m["tau"], np.exp(-0.15), rtol=1e-5)
    assert out["compilations"] == 1
    # The final report's k = 20 importance-weighted bound is tighter than the ELBO.
    assert 100 < m["test_neg_bound_k20"] < m["test_neg_elbo"]


def test_log_weights_average_to_the_elbo(test_digits):
    """E_q[log p(x, z) - log q(z | x)] = E_q[log p(x | z)] - KL(q || uniform): the mean of the
    importance log-weights (what the k = 1000 bound of Table 1 is built from) matches the
    closed-KL ELBO within 5 SE; forgetting the uniform prior's 20 log 10 (46 nats) fails."""
    c = cvae_config.get_config("quick")
    task = cvae.make_task(c, arrays=(test_digits[:64], test_digits[64:128]))
    params, _ = task.init(jax.random.key(0))
    x = jnp.asarray(test_digits[200])
    lw = task.log_weights(params, x, jax.random.key(1), 4000)  # [4000]
    elbo = task._bounds(params, x[None], jax.random.key(2), 4000)
    se = float(jnp.std(lw)) / np.sqrt(4000) + 1e-3
    assert abs(float(jnp.mean(lw)) - float(elbo)) < 5 * se, (float(jnp.mean(lw)), float(elbo))
    assert 5 * se < 46.05 / 10  # the test resolves a prior term far smaller than the prior


def test_temperature_schedule():
    c = cvae_config.get_config()
    steps = jnp.array([0, 499, 500, 10_000, 200_000])
    tau = cvae.temperature(c, steps, 1.0)
    expected = np.maximum(0.5, np.exp(-1e-5 * np.array([0, 0, 500, 10_000, 200_000])))
    np.testing.assert_allclose(tau, expected, rtol=1e-6)
    c.tau_schedule = "constant"
    assert cvae.temperature(c, steps, 0.7) == 0.7


def _tiny(estimator, baseline="none", num_samples=1, tau=1.0):
    c = cvae_config.get_config("quick")
    c.estimator, c.baseline, c.num_samples = estimator, baseline, num_samples
    c.model.enc_hidden, c.model.dec_hidden = (8,), (8,)
    c.model.num_latent, c.model.num_classes = 2, 3
    x = np.zeros((4, 784), np.float32)
    task = cvae.make_task(c, arrays=(x, x))
    params, state = task.init(jax.random.key(0))
    return task, params, state, tau


def _exact_elbo(task, params, x):
    """E_q[log p(x|z)] - KL by summing over all 3^2 latent configurations."""
    logits = task.model.apply(params, x, method=cvae.CategoricalVAE.encode)  # [2, 3]
    log_q = jax.nn.log_softmax(logits, -1)
    zs = jnp.array([[jax.nn.one_hot(i, 3), jax.nn.one_hot(j, 3)]
                    for i, j in itertools.product(range(3), range(3))])  # [9, 2, 3]
    log_px = cvae.bernoulli_log_prob(task.model.apply(params, zs,
                                                      method=cvae.CategoricalVAE.decode), x[None])
    log_qz = jnp.sum(zs * log_q[None], axis=(-2, -1))
    return jnp.sum(jnp.exp(log_qz) * log_px) - cvae.kl_to_uniform(logits)


def _encoder_grads(task, params, state, x, tau, n):
    def one(key):
        g = jax.grad(lambda p: task.example_objective(p, x, key, tau,
                                                       state["estimator"])[0])(params)
        return g["params"]["encoder"]["Dense_1"]["kernel"].ravel()

    return jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(1), n))


@pytest.mark.slow  # compile-bound (~12 s CPU)
def test_score_function_is_unbiased_and_gumbel_softmax_is_not():
    x = jnp.asarray((np.random.default_rng(0).random(784) < 0.3).astype(np.float32))
    task, params, state, tau = _tiny("score_function", "rloo", num_samples=4)
    exact = jax.grad(lambda p: _exact_elbo(task, p, x))(params)
    exact = np.asarray(exact["params"]["encoder"]["Dense_1"]["kernel"].ravel())
    sf = np.asarray(_encoder_grads(task, params, state, x, tau, 2000))
    se = sf.std(0, ddof=1) / np.sqrt(len(sf))
    z = np.abs(sf.mean(0) - exact) / (se + 1e-8)
    assert np.all(z < 5), z.max()
    # Gumbel-Softmax at tau = 1 estimates the gradient of the relaxed objective: biased for the
    # discrete one by many standard errors on some coordinates.
    task_gs, params, state, _ = _tiny("gumbel_softmax")
    gs = np.asarray(_encoder_grads(task_gs, params, state, x, 1.0, 2000))
    se = gs.std(0, ddof=1) / np.sqrt(len(gs))
    assert np.max(np.abs(gs.mean(0) - exact) / (se + 1e-8)) > 10


def test_learned_estimator_end_to_end(tmp_path, test_digits):
    """Any estimator serving categorical latents runs, e.g. NVIL: its baseline network is
    a trainable part of the params (``params["estimator"]``), trained by control_loss."""
    c = cvae_config.get_config("quick")
    c.estimator, c.num_steps, c.eval_every = "nvil", 100, 100
    task = cvae.make_task(c, arrays=(test_digits[:1024], test_digits[2048:2148]))
    out = train.train_and_evaluate(c, tmp_path, task=task, progress=False)
    m = out["members"][0]["metrics"]
    assert 150 < m["test_neg_elbo"] < 450 and np.isfinite(m["grad_var_encoder"])
    init = task.init(jax.random.key(c.seed))[0]["estimator"]
    final = train.member_slice(out["train_state"].params, 0)["estimator"]
    assert jax.tree.leaves(init)
    assert max(float(jnp.max(jnp.abs(a - b)))
               for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(init), strict=True)) > 0
