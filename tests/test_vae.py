"""The VAE experiment end to end (quick config) and its estimators' gradients."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import vae as vae_config
from experiments.tasks import vae
from rgrad import train

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_quick_config_end_to_end(tmp_path):
    c = vae_config.get_config("quick")
    out = train.train_and_evaluate(c, tmp_path, task=vae.make_task(c), progress=False)
    m = out["members"][0]["metrics"]
    # 200 steps take the bound well below the ~543 nats of an untrained model (784 log 2).
    assert 100 < m["test_neg_elbo"] < 300
    assert 100 < m["test_nll_k50"] < 300
    assert (tmp_path / "samples.png").stat().st_size > 1000
    assert (tmp_path / "reconstructions.png").exists()


def _grads(config_overrides, n_keys):
    c = vae_config.get_config("quick")
    c.update_from_flattened_dict(config_overrides)
    task = vae.make_task(c)
    params, state = task.init(jax.random.key(0))
    x = jnp.asarray(task.test_x[:16])

    def grad(key):
        return jax.grad(lambda p: task.loss(p, state, {"x": x}, key=key, step=0,
                                            hparams={"kl_weight": 1.0})[0])(params)

    g = jax.jit(jax.vmap(grad))(jax.random.split(jax.random.key(1), n_keys))
    return g["params"]["encoder"]["Dense_0"]["kernel"]


def test_score_function_gradient_is_unbiased_for_the_pathwise_one():
    # Both estimate the same encoder gradient; the score-function one is far noisier.
    pw = _grads({}, 256)
    sf = _grads({"estimator": "score_function", "baseline": "rloo", "num_samples": 8}, 256)
    mean_pw, mean_sf = pw.mean(0), sf.mean(0)
    se = jnp.sqrt(sf.var(0) / sf.shape[0] + pw.var(0) / pw.shape[0]) + 1e-6
    z = np.asarray(jnp.abs(mean_sf - mean_pw) / se).ravel()
    assert np.mean(z < 3) > 0.95  # ~99.7% expected under unbiasedness
    # Without a baseline the score-function variance is orders of magnitude larger (measured
    # ~1500x at initialisation); the leave-one-out baseline over 8 draws closes most of it.
    sf_plain = _grads({"estimator": "score_function"}, 256)
    assert float(sf_plain.var(0).mean()) > 100 * float(pw.var(0).mean())
    assert float(sf.var(0).mean()) < 0.1 * float(sf_plain.var(0).mean())


def test_estimator_is_chosen_once_and_its_state_is_the_task_state():
    c = vae_config.get_config("quick")
    x = np.zeros((4, 784), np.float32)
    assert vae.make_task(c, arrays=(x, x)).init(jax.random.key(0))[1] == {}  # checkpoints
    c.estimator, c.baseline = "score_function", "moving_average"
    _, state = vae.make_task(c, arrays=(x, x)).init(jax.random.key(0))
    assert set(state) == {"baseline"}
    for bad in ({"estimator": "gumbel_softmax"}, {"baseline": "rloo", "num_samples": 1},
                {"objective": "iwae"}, {"objective": "nope"}):
        c2 = vae_config.get_config("quick")
        c2.update({"estimator": "score_function", **bad})
        with pytest.raises(ValueError):
            vae.make_task(c2, arrays=(x, x))


def test_iwae_schedule_stages():
    c = vae_config.get_config("iwae")
    x = np.zeros((4, 784), np.float32)
    sched = vae.make_task(c, arrays=(x, x)).schedule(10, 32800)
    lr = [float(sched(s)) for s in (0, 9, 10, 39, 40, 129, 130, 32799)]
    r = 10 ** (-1 / 7)
    expected = [1e-3, 1e-3, 1e-3 * r, 1e-3 * r, 1e-3 * r**2, 1e-3 * r**2, 1e-3 * r**3,
                1e-3 * r**7]
    np.testing.assert_allclose(lr, expected, rtol=1e-6)


def test_importance_weighted_bound_is_tighter_on_the_same_digits():
    c = vae_config.get_config("quick")
    task = vae.make_task(c)
    params, _ = task.init(jax.random.key(0))
    x = jnp.asarray(task.test_x[:50])
    bounds = jax.jit(task._bounds, static_argnums=(3,))
    elbo, iw1 = bounds(params, x, jax.random.key(1), 1)
    _, iw50 = bounds(params, x, jax.random.key(1), 50)
    np.testing.assert_allclose(elbo, iw1, rtol=1e-6)  # k = 1: the bound is the ELBO
    assert float(iw50) > float(elbo) + 1.0


@pytest.mark.slow
def test_committed_iwae_paper_run_reproduces_table_1(tmp_path):
    """The committed IWAE-paper model (snapshots/vae_iwae, 3280 epochs) evaluates to the paper's
    one-stochastic-layer VAE NLL, 86.76 nats, within 0.15 (~3 min: k=5000 on 10k test digits).

    The bound's Monte Carlo error over 10k digits is ~0.01 nats; 0.15 is roughly the spread
    of the paper's number across training runs; the same run stopped at 5.58M of its 9.84M
    steps was ~0.3 nats worse (k=100 check 87.14), so a short-trained or misevaluated model
    fails."""
    workdir = tmp_path / "vae_iwae"
    shutil.copytree(ROOT / "snapshots" / "vae_iwae", workdir)
    # In a subprocess without the suite's -O0 XLA flag (conftest), under which the k=5000
    # evaluation is several times slower.
    env = {**os.environ, "XLA_FLAGS": ""}
    r = subprocess.run([sys.executable, "-m", "experiments.main", "--config=configs/vae.py:iwae",
                        f"--workdir={workdir}"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resumed from checkpoint at step 9840000" in r.stdout + r.stderr
    m = json.loads((workdir / "final_metrics.json").read_text())["members"][0]["metrics"]
    assert abs(m["test_nll_k5000"] - 86.76) < 0.15
    assert m["test_nll_k5000"] < m["test_neg_elbo"] < m["test_nll_k5000"] + 6
