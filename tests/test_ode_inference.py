"""ODE inference: solver vs closed form, gradients through the solver, rate recovery, smoke."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import ode_inference as cfg
from experiments.tasks import ode_inference
from rgrad import ode, train


def test_solve_matches_closed_form_and_its_gradient():
    ts = jnp.linspace(0.5, 10.0, 12)
    k = jnp.array([0.7, 0.25])
    y0 = jnp.array([1.0, 0.0, 0.0])
    ys = ode.solve(ode.abc_kinetics, y0, ts, k)
    assert ys.shape == (12, 3)
    np.testing.assert_allclose(ys, ode.abc_closed_form(ts, k), atol=1e-5)

    def f(k, adjoint):  # a scalar functional of the trajectory
        return jnp.sum(jnp.sin(ode.solve(ode.abc_kinetics, y0, ts, k, adjoint=adjoint)))

    exact = jax.grad(lambda k: jnp.sum(jnp.sin(ode.abc_closed_form(ts, k))))(k)
    np.testing.assert_allclose(jax.grad(f)(k, "direct"), exact, rtol=1e-3, atol=1e-5)


@pytest.mark.slow
def test_backsolve_adjoint_gradient_matches_closed_form():
    ts = jnp.linspace(0.5, 10.0, 12)
    k, y0 = jnp.array([0.7, 0.25]), jnp.array([1.0, 0.0, 0.0])
    g = jax.grad(lambda k: jnp.sum(jnp.sin(
        ode.solve(ode.abc_kinetics, y0, ts, k, adjoint="backsolve"))))(k)
    exact = jax.grad(lambda k: jnp.sum(jnp.sin(ode.abc_closed_form(ts, k))))(k)
    np.testing.assert_allclose(g, exact, rtol=1e-3, atol=1e-5)


def test_elbo_gradient_is_unbiased_for_the_exact_gaussian_case():
    # With q = N(m, s^2) and a quadratic log joint, grad_m ELBO = -(m - mu)/tau^2 exactly;
    # the reparameterized estimator must average to it (|mean - truth| < 5 SE).
    task = ode_inference.make_task(cfg.get_config("abc"))
    mu, tau = jnp.array([0.3, -1.0, 2.0]), jnp.array([0.5, 1.0, 2.0])
    task.model = task.model._replace(log_joint=lambda w: -0.5 * jnp.sum(((w - mu) / tau) ** 2))
    params = {"mean": jnp.zeros(3), "log_scale": jnp.log(jnp.array([0.2, 0.5, 1.0]))}
    g = jax.jit(jax.vmap(lambda k: jax.grad(task.elbo)(params, k, 1)["mean"]))(
        jax.random.split(jax.random.key(0), 4000))
    exact = np.asarray((mu - params["mean"]) / tau**2)
    se = np.asarray(g.std(0)) / np.sqrt(g.shape[0])
    assert np.all(np.abs(np.asarray(g.mean(0)) - exact) < 5 * se)


@pytest.mark.slow
def test_abc_rates_are_recovered(tmp_path):
    c = cfg.get_config("abc")
    c.num_steps, c.eval_every, c.checkpoint_every, c.artifacts = 600, 600, 600, False
    out = train.train_and_evaluate(c, tmp_path, task=ode_inference.make_task(c), progress=False)
    m = out["members"][0]["metrics"]
    for name, truth in zip(("k1", "k2"), c.abc.rates, strict=True):
        mean, sd = m[f"mean_{name}"], m[f"sd_{name}"]
        assert sd < 0.1 * truth  # 45 observations pin the rates to a few percent
        assert abs(mean - truth) < 4 * sd, (name, mean, sd, truth)
    assert 0.5 * c.abc.noise < m["mean_noise"] < 2 * c.abc.noise


def test_quick_config_end_to_end(tmp_path):
    c = cfg.get_config("quick")
    out = train.train_and_evaluate(c, tmp_path, task=ode_inference.make_task(c), progress=False)
    m = out["members"][0]["metrics"]
    assert np.isfinite(m["elbo"]) and m["elbo"] > -400  # prior-median start: about -430
    assert (tmp_path / "posterior_predictive.png").stat().st_size > 1000


@pytest.mark.slow
def test_lotka_volterra_matches_the_stan_case_study(tmp_path):
    # Posterior means reported by the Stan case study (Carpenter, NUTS), +- 3 posterior sd.
    c = cfg.get_config()
    out = train.train_and_evaluate(c, tmp_path, task=ode_inference.make_task(c), progress=False)
    m = out["members"][0]["metrics"]
    for name, ref in {"alpha": 0.55, "beta": 0.028, "gamma": 0.80, "delta": 0.024}.items():
        assert abs(m[f"mean_{name}"] - ref) < 3 * m[f"sd_{name}"], name


@pytest.mark.slow
def test_figure_quick(tmp_path):
    from configs.figures import ode_lynx_hare as fig_cfg
    from experiments.figures import ode_lynx_hare

    res = ode_lynx_hare.make(fig_cfg.get_config("quick"), tmp_path)
    assert 0.0 <= res.numbers["coverage_90"] <= 1.0
    assert (tmp_path / "ode_lynx_hare.png").exists()


@pytest.mark.slow
def test_figure_full_recovers_stan_posterior(tmp_path):
    from configs.figures import ode_lynx_hare as fig_cfg
    from experiments.figures import ode_lynx_hare

    n = ode_lynx_hare.make(fig_cfg.get_config(), tmp_path).numbers
    for name, ref in ode_lynx_hare.STAN_MEANS.items():
        assert abs(n[f"mean_{name}"] - ref) < 2 * n[f"sd_{name}"], name
    assert n["coverage_90"] > 0.8  # 42 points: 0.9 expected, binomial sd ~0.05
