"""Diffusion: forward marginals, unbiased bound, the learned-schedule gradient path, smoke runs."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import diffusion as diffusion_config
from experiments.tasks import diffusion
from rgrad import diffusion as dm
from rgrad import diffusion_decoder, ring_data, schedules, train
from rgrad.denoisers import Denoiser
from rgrad.nn import LOG2PI

SCHEDULES = ("ddpm_linear", "cosine", "learned")
# XLA:CPU's YNNPACK fusions return garbage from some of these programs, in some processes only
# (uninitialised memory): the unbiased-bound test got inf or 1e8-1e37 "after other tests".
_jit = functools.partial(jax.jit, compiler_options=dm.NO_YNN_FUSION)
# Quick figure: learned-schedule variance over that of its gamma-linear initialisation.
QUICK_VS_LINEAR = 1.0


def _task(schedule="learned", **overrides):
    c = diffusion_config.get_config("quick")
    c.schedule = schedule
    c.update_from_flattened_dict(overrides)
    task = diffusion.make_task(c)
    params, state = task.init(jax.random.key(0))
    return task, params, state


def _true_eps(z, gamma):
    """The exact eps-prediction E[eps | x_t] = -sigma grad log p_t for the Gaussian ring."""
    a, s = dm.alpha_sigma(gamma)

    def log_pt(z):
        d = z[None] - a * jnp.asarray(ring_data.ring_means())
        return jax.nn.logsumexp(-0.5 * jnp.sum(d**2, -1) / (a**2 * ring_data.RING_STD**2 + s**2))

    return -s * jax.grad(log_pt)(z)


def test_ddpm_schedule_is_the_discrete_product():
    betas = np.linspace(dm.DDPM_BETA_MIN, dm.DDPM_BETA_MAX, dm.DDPM_T)
    exact = np.cumsum(np.log1p(-betas))
    i = np.array([0, 1, 9, 99, 500, 998, 999])
    got = np.asarray(dm.ddpm_log_alpha_bar(jnp.asarray(i / (dm.DDPM_T - 1), jnp.float32)))
    np.testing.assert_allclose(got, exact[i], rtol=2e-5)
    # The cosine and gamma-linear schedules share DDPM's endpoints.
    for fn in (dm.cosine_gamma, dm.linear_gamma):
        np.testing.assert_allclose([fn({}, 0.0), fn({}, 1.0)],
                                   [dm.DDPM_GAMMA_MIN, dm.DDPM_GAMMA_MAX], rtol=1e-5)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_forward_marginals_match_the_schedule(schedule):
    task, params, _ = _task(schedule)
    x0 = jnp.array([0.7, -1.3])
    n = 20000
    eps = jax.random.normal(jax.random.key(1), (n, 2))
    ts = jnp.array([0.05, 0.5, 0.95])
    xts, gammas = _jit(lambda p: (
        jax.vmap(jax.vmap(task.xt, (None, None, None, 0)), (None, None, 0, None))(p, x0, ts, eps),
        jax.vmap(task.gamma_fn(p))(ts)))(params)
    assert xts.shape == (3, n, 2)
    for xt, g in zip(xts, gammas, strict=True):
        abar = jax.nn.sigmoid(-g)
        mean, var = np.sqrt(abar) * x0, 1.0 - abar
        se_mean = np.sqrt(var / n)
        assert np.all(np.abs(xt.mean(0) - mean) < 5 * se_mean)
        assert np.all(np.abs(xt.var(0) - var) < 5 * var * np.sqrt(2.0 / n))


def test_fixed_schedule_xt_is_constant_in_theta_learned_one_is_not():
    x0, eps, t = jnp.array([0.7, -1.3]), jnp.array([0.3, 0.4]), jnp.float32(0.4)
    for schedule in ("ddpm_linear", "cosine"):
        task, params, _ = _task(schedule)
        g = _jit(jax.grad(lambda p: jnp.sum(task.xt(p, x0, t, eps))))(params)
        assert set(g) == {"denoiser"}  # nothing else is trained
        assert all(float(jnp.max(jnp.abs(leaf))) == 0.0 for leaf in jax.tree.leaves(g))
    task, params, _ = _task("learned")
    g = _jit(jax.grad(lambda p: jnp.sum(task.xt(p, x0, t, eps))))(params)
    assert all(float(jnp.max(jnp.abs(leaf))) == 0.0 for leaf in jax.tree.leaves(g["denoiser"]))
    assert max(float(jnp.max(jnp.abs(leaf))) for leaf in jax.tree.leaves(g["schedule"])) > 1e-3


def test_bound_is_unbiased_and_tight_with_the_exact_denoiser():
    # The untrained denoiser outputs 0 (zero-initialised last layer), so the expected bound is
    # closed form: 0.5 D (g1 - g0) + prior KL + 0.5 D (1 + g0 + log 2 pi) per example.
    task, params, state = _task("ddpm_linear")
    g0, g1 = dm.DDPM_GAMMA_MIN, dm.DDPM_GAMMA_MAX
    gamma = functools.partial(dm.ddpm_linear_gamma, {})

    def one(x, t, ke, k0):  # one-draw bound with the exact eps-prediction
        g_t, dg_t = jax.jvp(gamma, (t,), (jnp.ones(()),))
        l = dm.diffusion_loss(_true_eps, x, g_t, dg_t, jax.random.normal(ke, (2,)))
        return l + dm.prior_kl(x, g1) + dm.gaussian_recon(x, g0, jax.random.normal(k0, (2,)))

    @_jit  # one compiled program: compiles, not arithmetic, are this test's cost
    def run():
        x = ring_data.ring_sample(jax.random.key(2), 128)
        truth = jnp.mean(0.5 * 2 * (g1 - g0) + jax.vmap(dm.prior_kl, (0, None))(x, g1)
                         + 0.5 * 2 * (1 + g0 + LOG2PI))
        est = jax.vmap(lambda k: task.loss(params, state, {"x": x}, key=k, step=0,
                                           hparams={})[0])(jax.random.split(jax.random.key(3), 100))
        xb = ring_data.ring_sample(jax.random.key(4), 4000)
        kt, ke, k0 = jax.random.split(jax.random.key(5), 3)
        b = jax.vmap(one)(xb, jax.random.uniform(kt, (4000,)), jax.random.split(ke, 4000),
                          jax.random.split(k0, 4000))
        return truth, est, b, -jnp.mean(ring_data.ring_log_density(xb))

    truth, est, b, entropy = (np.asarray(a, np.float64) for a in run())
    assert abs(est.mean() - truth) < 5 * est.std() / np.sqrt(len(est))
    # With the exact eps-prediction the bound is the data entropy up to the endpoint gap
    # (reconstruction at sigma_0 = 0.01 vs component std 0.1: ~0.01 nats); the entropy is
    # estimated on the same x (common noise).
    gap = b.mean() - entropy
    assert -5 * b.std() / np.sqrt(len(b)) < gap < 0.03 + 5 * b.std() / np.sqrt(len(b))


def test_bound_depends_on_the_schedule_only_through_its_endpoints():
    # The denoiser sees gamma_t, so DDPM-linear t-draws and gamma-linear t-draws estimate the
    # same bound (VDM eq. 17) with very different variances. A trained-looking denoiser
    # (perturbed weights, |eps_hat| ~ 1) makes the diffusion term large and shape-sensitive.
    task, params, _ = _task("ddpm_linear")
    params["denoiser"] = jax.tree.map(
        lambda a: a + 0.5 * jax.random.normal(jax.random.key(8), a.shape), params["denoiser"])
    x = ring_data.ring_sample(jax.random.key(9), 256)
    own, (lin, lin_diff) = _jit(lambda p: (
        task.vlb_estimates(p, x, jax.random.key(10), 64)[0],
        task.vlb_estimates(p, x, jax.random.key(11), 64, "linear")))(params)
    # Per-example means: the difference of two independent estimates on the same x.
    d = np.asarray(own.mean(1) - lin.mean(1))
    se = d.std() / np.sqrt(len(d))
    assert abs(d.mean()) < 5 * se
    assert float(own.var()) > 3 * float(lin.var())  # the shapes' estimators do differ
    # The zero denoiser's diffusion term is 0.5 D (g1 - g0) = g1 - g0: this one is far from it.
    zero = dm.DDPM_GAMMA_MAX - dm.DDPM_GAMMA_MIN
    assert abs(float(lin_diff.mean()) - zero) > 20 * float(lin_diff.std()) / np.sqrt(256 * 64)


def test_windowed_discrete_decoder_is_exact_in_value_and_gradient():
    # gamma_0 = -9 takes the 33-level window, -6 the full 256-level sum (and the window alone
    # would miss ~e^-3 of the mass there): both must equal the full sum, value and derivative.
    k, x = dm.encode_bytes(jax.random.randint(jax.random.key(0), (64,), 0, 256) / 255.0)
    eps0 = jax.random.normal(jax.random.key(1), (64,))

    def both(g0):
        f = lambda g, w: diffusion_decoder.discrete_recon(k, x, g, eps0, window=w)  # noqa: E731
        return (jax.value_and_grad(f)(g0, 16), jax.value_and_grad(f)(g0, 0))

    (v, g), (v_full, g_full) = _jit(jax.vmap(both))(jnp.array([-9.0, -6.0]))
    np.testing.assert_allclose(v, v_full, rtol=1e-5)
    np.testing.assert_allclose(g, g_full, rtol=1e-4)


def test_ancestral_sampler_with_exact_denoiser_recovers_the_ring():
    gamma = functools.partial(dm.ddpm_linear_gamma, {})
    z0 = _jit(jax.vmap(lambda k: dm.ancestral_sample(_true_eps, gamma, k, (2,), 200)))(
        jax.random.split(jax.random.key(6), 1000))
    x = z0 / dm.alpha_sigma(gamma(0.0))[0]
    logp = ring_data.ring_log_density(x)
    data_logp = float(jnp.mean(ring_data.ring_log_density(ring_data.ring_sample(
        jax.random.key(7), 20000))))
    assert abs(float(logp.mean()) - data_logp) < 0.25
    counts = np.bincount(np.argmin(np.sum((np.asarray(x)[:, None] - ring_data.ring_means())
                                          ** 2, -1), 1), minlength=8)
    assert np.all(np.abs(counts - 125) < 5 * np.sqrt(125))  # every mode, in proportion


def test_preconditioned_denoiser_starts_at_the_linear_mmse_eps():
    # At init (zero output layers) eps_hat = c_skip z: for x ~ N(0, rms^2) that is E[eps | z],
    # so the error is orthogonal to z, and its variance is c_out^2, the scale F gets.
    rms, n, d = 0.5, 20_000, 4
    gammas = jnp.array([-3.0, 0.0, 3.0])
    net = Denoiser(8, 1, d, data_rms=rms, pixel_hidden=4)
    params = net.init(jax.random.key(0), jnp.zeros((d,)), jnp.zeros(()))
    kx, ke = jax.random.split(jax.random.key(1))
    x, eps = rms * jax.random.normal(kx, (n, d)), jax.random.normal(ke, (n, d))

    @_jit
    def errors(g):  # [3, n, d] for the three noise levels
        def one(g):
            a, s = dm.alpha_sigma(g)
            z = a * x + s * eps
            return eps - jax.vmap(lambda z: net.apply(params, z, g))(z), z
        return jax.vmap(one)(g)

    err, z = errors(gammas)
    for i, g in enumerate(np.asarray(gammas)):
        prod = np.asarray(err[i] * z[i]).ravel()
        assert abs(prod.mean()) < 4 * prod.std() / np.sqrt(prod.size), g  # orthogonal to z
        sq = np.asarray(err[i] ** 2).ravel()
        a2, s2 = float(jax.nn.sigmoid(-g)), float(jax.nn.sigmoid(g))
        c_out2 = a2 * rms**2 / (a2 * rms**2 + s2)
        assert abs(sq.mean() - c_out2) < 4 * sq.std() / np.sqrt(sq.size), g


def test_learned_schedule_gradient_flows_only_through_xt():
    # DDPM's eps-MSE with a learned schedule: the schedule enters only through x_t.
    sched = dm.LearnedGamma(16)
    ps = sched.init(jax.random.key(0), jnp.zeros(()))
    net = Denoiser(16, 1, 2)
    pn = net.init(jax.random.key(1), jnp.zeros((2,)), jnp.zeros(()))
    pn = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(jax.random.key(2), a.shape), pn)
    x0, eps, t = jnp.array([0.7, -1.3]), jnp.array([0.3, 0.4]), jnp.float32(0.4)

    def mse(ps, stop):
        xt = dm.q_sample(x0, sched.apply(ps, t), eps)
        xt = jax.lax.stop_gradient(xt) if stop else xt
        return jnp.sum((eps - net.apply(pn, xt, t)) ** 2)

    full = jax.tree.leaves(_jit(jax.grad(mse), static_argnums=1)(ps, False))
    cut = jax.tree.leaves(_jit(jax.grad(mse), static_argnums=1)(ps, True))
    assert max(float(jnp.max(jnp.abs(g))) for g in full) > 1e-4
    assert all(float(jnp.max(jnp.abs(g))) == 0.0 for g in cut)


def test_variance_gradient_is_two_l_dl_for_the_shape_and_plain_for_the_rest():
    task, params, _ = _task("learned")
    params["denoiser"] = jax.tree.map(
        lambda a: a + 0.1 * jax.random.normal(jax.random.key(2), a.shape), params["denoiser"])
    x, t, key = jnp.array([0.7, -1.3]), jnp.float32(0.4), jax.random.key(3)
    bound_task, _, _ = _task("learned", schedule_grad="bound")
    g_var, g_l, g_l2 = _jit(lambda p: (
        jax.grad(lambda p: task.example_terms(p, x, t, key)[0])(p),
        jax.grad(lambda p: bound_task.example_terms(p, x, t, key)[0])(p),
        jax.grad(lambda p: bound_task.example_terms(p, x, t, key)[0] ** 2)(p)))(params)
    sch = params["schedule"]["params"]
    for name in sch:
        # shape: d L^2 (float32: ~2e-4 relative); endpoints: d L. A wrong factor is off by >10%.
        want = g_l2 if name in ("l1", "l2", "l3") else g_l
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6),
                     g_var["schedule"]["params"][name], want["schedule"]["params"][name])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                 g_var["denoiser"], g_l["denoiser"])


def test_quick_config_end_to_end(tmp_path):
    c = diffusion_config.get_config("quick")
    out = train.train_and_evaluate(c, tmp_path, task=diffusion.make_task(c), progress=False)
    m = out["members"][0]["metrics"]
    # Untrained: 0.5 D (g1 - g0) + ... ~ 11 nats; 150 steps bring it down by half at least.
    assert m["bound_nats"] < 6.0
    assert m["gamma_min"] != pytest.approx(dm.DDPM_GAMMA_MIN, abs=1e-4)  # endpoints moved
    assert (tmp_path / "samples.png").stat().st_size > 1000
    assert out["compilations"] == 1


@pytest.mark.slow
def test_mnist_quick_config_end_to_end(tmp_path):
    from rgrad import checkpoint

    c = diffusion_config.get_config("mnist_quick")
    task = diffusion.make_task(c)
    out = train.train_and_evaluate(c, tmp_path, task=task, progress=False)
    assert np.isfinite(out["members"][0]["metrics"]["bpd"])
    assert (tmp_path / "samples.png").stat().st_size > 1000
    # The untrained preconditioned denoiser is the linear-MMSE eps (~8 bpd with the decoder);
    # 100 small steps must beat it, paired on the same 32 test digits and (t, eps) draws.
    steps_per_epoch = len(task.train_x) // c.batch_size
    tx = task.optimizer(task.schedule(steps_per_epoch,
                                      schedules.total_steps(c, steps_per_epoch)))
    ts = train.init_members(task, tx, c, train.members(c, task))
    untrained = jax.tree.map(lambda a: a[0], ts.params)
    trained = jax.tree.map(lambda a: a[0], checkpoint.Checkpointer(
        tmp_path / "checkpoints").restore_or(ts).params)
    x = jnp.asarray(task.test_x[:32])
    est = _jit(task.vlb_estimates, static_argnums=(3,))
    d = np.asarray(est(trained, x, jax.random.key(0), 8)[0]
                   - est(untrained, x, jax.random.key(0), 8)[0]).mean(1)
    assert d.mean() < -3 * d.std(ddof=1) / np.sqrt(len(d))


@pytest.mark.slow  # ~90 s CPU (three trainings and their compiles): over the default budget.
def test_schedule_figure_quick(tmp_path):
    from experiments.figures import diffusion_schedules
    from experiments.figures.__main__ import load_config

    res = diffusion_schedules.make(load_config("diffusion_schedules", quick=True), tmp_path)
    n = res.numbers
    # Variance of the one-draw diffusion loss: learned < its gamma-linear init << DDPM-linear.
    assert n["learned_diff_var"] < QUICK_VS_LINEAR * n["linear_diff_var"]
    assert n["learned_diff_var"] < 0.2 * n["ddpm_linear_diff_var"]
    for s in ("ddpm_linear", "linear", "learned"):  # a bound: never below H(p)
        assert n[f"{s}_bound"] > n["entropy_nats"] - 5 * n[f"{s}_bound_se"]
    # Paired bound differences (common draws): learned is not worse than either fixed schedule.
    for s in ("ddpm_linear", "linear"):
        assert n[f"learned_minus_{s}_bound"] < 5 * n[f"learned_minus_{s}_bound_se"]
    png, csv = res.files
    assert png.stat().st_size > 1000
    assert len(csv.read_text().strip().splitlines()) == 1 + 3  # header + one row per schedule


def test_eps_mse_objective_and_fixed_gamma_metrics():
    gammas = (-2.0, 0.0, 3.0)
    task, params, state = _task("linear", objective="eps_mse",
                                **{"eval.gammas": gammas, "eval.gamma_examples": 256})
    simple, _, _ = _task("linear", objective="simple")
    batch, _ = task.batch(None, state, params, key=jax.random.key(1), step=jnp.int32(0))
    kw = {"key": jax.random.key(2), "step": jnp.int32(0), "hparams": {}}
    # The bench's loss is DDPM's simple loss per dimension (same draws).
    assert float(task.loss(params, state, batch, **kw)[0]) == pytest.approx(
        float(simple.loss(params, state, batch, **kw)[0]) / 2, rel=1e-6)
    # eps_hat = z / sigma errs by exactly alpha x / sigma: eps-MSE = exp(-gamma) mean(x^2).
    m = _jit(lambda k: task.fixed_gamma_mse(lambda z, g: z / dm.alpha_sigma(g)[1], k))(
        jax.random.key(3))
    x2 = float(np.mean(task.test_x[:256] ** 2))
    for g in gammas:
        assert float(m[f"eps_mse_gamma{g:g}"]) == pytest.approx(np.exp(-g) * x2, rel=1e-4)
    # The exact denoiser beats predicting 0 (whose eps-MSE is E eps^2 = 1) at every level.
    exact = _jit(lambda k: task.fixed_gamma_mse(_true_eps, k))(jax.random.key(3))
    assert all(float(exact[f"eps_mse_gamma{g:g}"]) < 0.9 for g in gammas)
    # Periodic evaluation without bound examples reports only the fixed-gamma metrics.
    assert set(task.evaluate(params, state, key=jax.random.key(4))) == set(m)
    with pytest.raises(ValueError, match="needs a fixed schedule"):
        _task("learned", objective="eps_mse")
