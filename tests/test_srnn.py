"""The stochastic RNN (VRNN over MNIST rows): end to end on its quick config, and its bounds on
the fixed random test subset."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import srnn as srnn_config
from experiments.tasks import srnn
from rgrad import data as rdata
from rgrad import train


@pytest.fixture(scope="module")
def test_digits():
    return rdata.load("binarized_mnist", "test").images  # 10k rows: cheaper than the train set


def _tiny_config(steps):
    c = srnn_config.get_config("quick")
    c.num_steps = c.eval_every = c.checkpoint_every = c.log_every = steps
    c.model.enc_hidden, c.model.rnn_hidden, c.model.latent = (16,), 16, 2
    c.eval.map_batch = 64  # divides 256 and 64: no second compile for a remainder
    return c


def test_tiny_vrnn_trains(test_digits):
    # Default-suite smoke test of the model and its gradient without the shared loop (whose
    # end-to-end run, with the bounds and samples.png, is the slow test below): a tiny VRNN,
    # 60 Adam steps in one compiled scan. ~12 s of CPU, nearly all of it compiling.
    c = _tiny_config(60)
    task = srnn.make_task(c, arrays=(test_digits[:2048], test_digits[:8]))
    params, state = jax.jit(task.init)(jax.random.key(0))
    tx = optax.adam(3e-3)
    x = jnp.asarray(test_digits[:2048])

    @jax.jit
    def fit(params):
        def step(carry, i):
            p, o = carry
            batch = {"x": jax.lax.dynamic_slice_in_dim(x, (i % 64) * 32, 32)}
            (loss, _), g = jax.value_and_grad(task.loss, has_aux=True)(
                p, state, batch, key=jax.random.fold_in(jax.random.key(1), i), step=i,
                hparams=task.hparams())
            u, o = tx.update(g, o, p)
            return (optax.apply_updates(p, u), o), loss

        return jax.lax.scan(step, (params, tx.init(params)), jnp.arange(60))

    _, losses = fit(params)
    losses = np.asarray(losses)
    # Untrained: ~543 nats (784 log 2); 60 steps must take the -ELBO well below that.
    assert np.all(np.isfinite(losses))
    assert losses[:5].mean() > 500 and losses[-5:].mean() < 400


def test_bounds_use_the_fixed_random_subset(test_digits):
    # The k-sample bound is computed on test_x[eval_order[:n]], not on the first n digits.
    c = _tiny_config(1)
    task = srnn.make_task(c, arrays=(test_digits[:8], test_digits[:1000]))
    seen = []
    task._bounds = lambda params, x, key, k: (seen.append((np.asarray(x), k)), (0.0, 0.0))[1]
    task.bounds(None, jax.random.key(0), 7, 50)
    (x_all, k1), (x_sub, k7) = seen
    assert (k1, k7) == (1, 7) and len(x_all) == 1000
    np.testing.assert_array_equal(x_sub, task.test_x[task.eval_order[:50]])
    assert sorted(task.eval_order[:50]) != list(range(50))
    assert len(set(task.eval_order)) == 1000


@pytest.mark.slow  # ~30 s of CPU (compiling the scanned VRNN step and its evaluation)
def test_quick_config_end_to_end(tmp_path):
    c = srnn_config.get_config("quick")
    out = train.train_and_evaluate(c, tmp_path, task=srnn.make_task(c), progress=False)
    m = out["members"][0]["metrics"]
    # 200 steps take the bound well below an untrained model's ~543 nats (784 log 2).
    assert 100 < m["test_neg_elbo"] < 400
    assert m["test_nll_k20"] <= m["test_neg_elbo"] + 1e-3
    assert np.isfinite(m["test_nll_k20"])
    assert (tmp_path / "samples.png").stat().st_size > 1000
