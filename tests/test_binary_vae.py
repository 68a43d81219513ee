"""Binary (Bernoulli-latent) VAE: quick runs end to end with several estimators (a learned one
included), the single-sample ELBO and its gradient against exact enumeration on a tiny model,
one-line errors, and the discrete_vae_curves figure on quick runs."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import binary_vae as bvae_config
from configs import categorical_vae as cvae_config
from experiments import run
from experiments.tasks import binary_vae as bvae
from experiments.tasks import categorical_vae as cvae
from rgrad import data as rdata


@pytest.fixture(scope="module")
def digits():
    """(train grey levels [512, 784], test grey levels [64, 784]) from MNIST's test split."""
    x = rdata.load("mnist", "test").images.reshape(-1, 784).astype(np.float32)
    return x[:512], x[512:576]


def _quick(estimator, **fields):
    c = bvae_config.get_config("quick")
    c.estimator, c.num_steps = estimator, 100
    for k, v in fields.items():
        setattr(c, k, v)
    return c


def test_quick_end_to_end_with_a_learned_estimator(digits):
    """RELAX end to end (the score function and DisARM run in the figure's test below)."""
    estimator = "relax"
    c = _quick(estimator)
    task = bvae.make_task(c, arrays=digits)
    r = run.run(c, task=task)
    m = r.metrics[0]
    # 100 steps take the bound well below the 784 log 2 = 543 nats of a uniform decoder.
    assert 100 < m["test_neg_elbo"] < 450, m
    assert m["test_neg_bound_k4"] <= m["test_neg_elbo"] + 5
    assert np.isfinite(m["train_neg_elbo"]) and m["grad_var_encoder"] > 0
    assert r.output["compilations"] == 1
    # Learned control variates (RELAX's network, temperature, scale) are trained parameters.
    init = task.init(jax.random.key(c.seed))[0]["estimator"]
    moved = [float(jnp.max(jnp.abs(a - b)))
             for a, b in zip(jax.tree.leaves(r.params["estimator"]), jax.tree.leaves(init),
                             strict=True)]
    assert moved and max(moved) > 0


def _tiny(estimator, kl="sample", num_samples=1):
    c = bvae_config.get_config("quick")
    c.estimator, c.num_samples, c.kl = estimator, num_samples, kl
    if estimator == "score_function" and num_samples > 1:
        c.baseline = "rloo"
    c.model.num_latent = 3
    x = np.random.default_rng(5).random((8, 784)).astype(np.float32)  # grey levels
    task = bvae.make_task(c, arrays=(x, x))
    params, state = task.init(jax.random.key(0))
    # The DisARM code's decoder bias: the logit of the (clipped) training mean.
    p = np.clip(x.mean(0), 0.001, 0.999)
    np.testing.assert_allclose(params["params"]["decoder"]["Dense_0"]["bias"],
                               np.log(p / (1 - p)), atol=1e-5)
    # A non-trivial prior, so that its term matters.
    params["prior"] = jnp.array([0.5, -1.0, 0.2])
    return task, params, state


def _exact_elbo(task, params, x):
    """sum over the 2^3 latent configurations of q(b) [log p(x|b) + log p(b) - log q(b)]."""
    bs = jnp.array(list(itertools.product([0.0, 1.0], repeat=3)))  # [8, 3]
    logits = task.encode(params, x)
    q = bvae.Bernoullis(logits)
    log_q = jax.vmap(q.log_prob)(bs)
    log_px, log_pb = task.log_terms(params, x, bs)
    return jnp.sum(jnp.exp(log_q) * (log_px + log_pb - log_q))


X = jnp.asarray((np.random.default_rng(0).random(784) < 0.3).astype(np.float32))


def test_elbo_estimates_match_enumeration():
    """The single-sample ELBO (kl='sample') and the exact-KL one (kl='exact') both average to
    the exact ELBO (5 standard errors); a 1.2x copy does not."""
    n = 4000
    for kl in ("sample", "exact"):
        task, params, state = _tiny("score_function", kl)
        exact = float(_exact_elbo(task, params, X))
        values = jax.jit(jax.vmap(lambda k: task.example_objective(
            params, X, k, 1.0, state["estimator"])[1]))(jax.random.split(jax.random.key(1), n))
        se = float(np.std(values, ddof=1) / np.sqrt(n)) + 1e-6
        assert abs(float(np.mean(values)) - exact) < 5 * se, (kl, np.mean(values), exact, se)
        assert abs(1.2 * float(np.mean(values)) - exact) > 5 * se


@pytest.mark.parametrize("estimator,num_samples", [("score_function", 2), ("disarm", 1)])
def test_gradient_is_unbiased(estimator, num_samples):
    """The loss gradient (encoder, decoder and prior) against the exact ELBO's gradient by
    enumeration, within 5 standard errors; a 1.2x copy fails. Checks the stop_gradient on
    log q inside f (the dropped direct term has mean zero)."""
    task, params, state = _tiny(estimator, num_samples=num_samples)
    flat = lambda g: jnp.concatenate([g["params"]["encoder"]["Dense_0"]["bias"],
                                      g["params"]["decoder"]["Dense_0"]["kernel"][:, :4].ravel(),
                                      g["prior"]])
    exact = np.asarray(flat(jax.grad(lambda p: _exact_elbo(task, p, X))(params)))
    n = 3000

    def one(k):
        return flat(jax.grad(lambda p: task.example_objective(p, X, k, 1.0,
                                                              state["estimator"])[0])(params))

    draws = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(2), n)))
    se = draws.std(0, ddof=1) / np.sqrt(n) + 1e-6
    assert np.all(np.abs(draws.mean(0) - exact) < 5 * se), np.abs(draws.mean(0) - exact) / se
    assert np.any(np.abs(1.2 * draws.mean(0) - exact) > 5 * se)


def test_wrong_kind_is_a_one_line_error():
    x = np.zeros((4, 784), np.float32)
    c = cvae_config.get_config("quick")
    c.estimator = "arm"  # Bernoulli only
    with pytest.raises(ValueError, match=r"does not serve categorical latents") as e:
        cvae.make_task(c, arrays=(x, x))
    assert "\n" not in str(e.value) and "gumbel_softmax" in str(e.value)
    c = bvae_config.get_config("quick")
    c.estimator = "pathwise"  # continuous latents only
    with pytest.raises(ValueError, match=r"does not serve bernoulli latents"):
        bvae.make_task(c, arrays=(x, x))
    c.estimator, c.kl = "disarm", "analytic"
    with pytest.raises(ValueError, match=r"config.kl='analytic'"):
        bvae.make_task(c, arrays=(x, x))


def test_curves_figure_shows_the_score_function_variance(tmp_path):
    """The figure's quick runs (score function without baseline, DisARM; 100 steps each,
    trained end to end in its folder): the score function's encoder-gradient variance is the
    highest by more than 10x, and every curve has its steps and wall times."""
    from configs.figures import discrete_vae_curves as fig_config
    from experiments.figures import discrete_vae_curves as fig

    config = fig_config.get_config("quick")
    res = fig.make(config, tmp_path)
    n = res.numbers
    assert [r[0] for r in config.runs][int(n["highest_variance_run"])] == "sf_none"
    assert n["highest_variance_ratio"] > 10, n
    for name in ("sf_none", "disarm"):
        assert n[f"{name}_steps"] == 100 and 0 < n[f"{name}_ms_per_step"] < 1e4
        assert 100 < n[f"{name}_final_test_neg_elbo"] < 543
    assert "score function has the highest" in res.claim
    assert all(p.exists() for p in res.files)


def test_curves_figure_variants_name_resolvable_runs_of_the_papers_other_settings():
    """nonlinear / fashion: every binary estimator but IndeCateR, each run's config resolves
    with its overrides (the nonlinear model's hidden layers; Fashion-MNIST data)."""
    from configs.figures import discrete_vae_curves as fig_config
    from experiments import run

    for variant, prefix in (("nonlinear", "bvae_nl_"), ("fashion", "bvae_fm_")):
        config = fig_config.get_config(variant)
        names = [r[0] for r in config.runs]
        assert "indecater" not in names and {"rloo", "arm", "disarm", "relax"} <= set(names)
        for name, ref, overrides, run_dir in config.runs:
            assert run_dir == f"runs/discrete/{prefix}{name}"
            c = run.resolve(ref, overrides)
            assert c.num_steps == 20000
            assert (c.model.hidden == (200, 200)) == (variant == "nonlinear")
            assert (c.data.name == "fashion_mnist") == (variant == "fashion")


def test_curves_read_a_run_resumed_across_the_tensorboard_layouts(tmp_path):
    """A run whose first session logged to tb/ and whose resumed session logs to tb/seed0/:
    the training seconds cover both sessions and grow with the step (the later session's
    chunks are added to the earlier total, not restarted from zero)."""
    import time

    from tensorboardX import SummaryWriter

    from experiments.figures import discrete_vae_curves as fig

    def session(logdir, steps, t0):
        w = SummaryWriter(str(logdir))
        for i, step in enumerate(steps):  # a train scalar, then an eval at the same step
            w.add_scalar("train/loss", 1.0, step, walltime=t0 + 10.0 * i)
            w.add_scalar("eval/x", 1.0, step, walltime=t0 + 10.0 * i + 1.0)
        w.close()

    session(tmp_path / "tb", [100, 200, 300], 1000.0)
    time.sleep(1.1)  # event files are named by their start time, in seconds
    session(tmp_path / "tb" / "seed0", [400, 500], 5000.0)
    (tmp_path / "metrics.jsonl").write_text("".join(
        f'{{"step": {s}, "split": "eval", "member": 0, "m": 1.0}}\n'
        for s in (100, 200, 300, 400, 500)))
    values = fig.read_curves(tmp_path, ("m",))["seconds"]
    assert np.all(np.isfinite(values)) and np.all(np.diff(values) > 0)
    assert values[-1] == pytest.approx(5 * 9.0)  # every chunk: 10 s minus the 1 s evaluation
