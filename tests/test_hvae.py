"""The two-layer VAE end to end (quick config), its bound, and its layer-wise gradient variance."""

import jax
import jax.numpy as jnp
import numpy as np

from configs import hvae as hvae_config
from experiments.tasks import hvae
from rgrad import train


def test_quick_config_end_to_end(tmp_path):
    c = hvae_config.get_config("quick")
    out = train.train_and_evaluate(c, tmp_path, task=hvae.make_task(c), progress=False)
    m = out["members"][0]["metrics"]
    assert 100 < m["test_neg_elbo"] < 400  # well below an untrained model's ~543 nats
    assert m["test_nll_k20"] <= m["test_neg_elbo"] + 1e-3
    for g in ("lower", "upper"):
        assert np.isfinite(m[f"gradvar_{g}_enc"]) and m[f"gradvar_{g}_enc"] > 0
    assert (tmp_path / "samples.png").stat().st_size > 1000


def test_log_weights_shapes_and_iw_bound_order():
    c = hvae_config.get_config("quick")
    x = np.zeros((4, 784), np.float32)
    x[:, ::3] = 1.0
    task = hvae.make_task(c, arrays=(x, x))
    params, _ = task.init(jax.random.key(0))
    x0 = jnp.asarray(x[0])

    def terms(p):  # log p(x | z1), log p(z1, z2), log q(z1, z2 | x) for 7 draws
        q = task.posterior(p, x0)
        return task.log_terms(p, x0, q.sample(seed=jax.random.key(1), sample_shape=(7,)), q)

    out = jax.eval_shape(terms, params)
    assert [o.shape for o in out] == [(7,), (7,), (7,)]
    assert jax.eval_shape(lambda p: task.log_weights(p, x0, jax.random.key(1), 7),
                          params).shape == (7,)
    # Jensen: the k-sample importance-weighted bound is above the ELBO on average.
    elbo, iw = jax.jit(task.bounds, static_argnums=(2, 3))(params, jax.random.key(2), 64, 4)
    assert iw > elbo
