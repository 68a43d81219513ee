"""Figure: bias and variance of relaxed discrete gradients against tau, exact by enumeration.

Gumbel-Softmax, straight-through Gumbel-Softmax, Gumbel-Rao and ReinMax at each tau; REBAR at
lambda = tau (eta = 1) and RELAX with its control variate trained by ``control_loss`` are the
unbiased references, with the score function.
"""

from __future__ import annotations

import itertools
import pathlib

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.figures.common import FigureResult, save_csv
from rgrad import estimators
from rgrad.nn import bernoulli_log_prob

ESTIMATORS = ("gumbel_softmax", "st_gumbel_softmax", "gumbel_rao", "reinmax")
COLUMNS = ("bias2", "bias2_se", "var", "var_se")
FLOOR = 1e-3  # the debiased squared-bias estimate can be <= 0; drawn here on the log axis


def problem(config):
    """Encoder logits [L, K], and f(z [L, K]) = log p(x | z) for a fixed random decoder."""
    k_logits, k_w, k_b, k_x = jax.random.split(jax.random.key(config.seed), 4)
    shape = (config.num_latent, config.num_classes)
    logits = jax.random.normal(k_logits, shape)
    w = config.decoder_scale * jax.random.normal(k_w, (shape[0] * shape[1], config.num_pixels))
    b = jax.random.normal(k_b, (config.num_pixels,))
    x = jax.random.bernoulli(k_x, 0.3, (config.num_pixels,)).astype(jnp.float32)

    def f(z):
        return bernoulli_log_prob(z.reshape(-1) @ w + b, x)

    return logits, f


def exact_gradient(logits, f):
    """grad of sum_z q(z) f(z) over all K^L one-hot configurations.  # [L, K]"""
    n_lat, k = logits.shape
    idx = jnp.array(list(itertools.product(range(k), repeat=n_lat)))  # [K^L, L]
    zs = jax.nn.one_hot(idx, k)  # [K^L, L, K]
    fz = jax.vmap(f)(zs)

    def expectation(lg):
        log_qz = jnp.sum(zs * jax.nn.log_softmax(lg, -1)[None], axis=(-2, -1))
        return jnp.sum(jnp.exp(log_qz) * fz)

    return jax.grad(expectation)(logits)


def draws(logits, f, tau, key, n, estimator, params=None, **options):
    """n single-sample gradient estimates w.r.t. the logits, by the named estimator (with its
    control-variate ``params`` and constructor ``options``, if any).  # [n, L, K]"""
    est = estimators.make(estimator, **options)
    batched = jax.vmap(f)  # [1, L, K] -> [1]

    def one(k):
        def sur(lg):
            dist = distrax.Independent(distrax.OneHotCategorical(lg), 1)
            return est(batched, dist, key=k, num_samples=1, temperature=tau,
                       params=params).surrogate
        return jax.grad(sur)(logits)

    return jax.vmap(one)(jax.random.split(key, n))


def bias_variance(g, exact, groups):
    """Squared bias norm (debiased by tr Cov / n) and variance trace, each with its SE over
    ``groups`` batches of the draws g [n, L, K]."""
    g = g.reshape(groups, -1, g.shape[-2] * g.shape[-1])  # [G, m, P]
    m = g.shape[1]
    var = jnp.sum(jnp.var(g, axis=1, ddof=1), -1)  # [G]
    bias2 = jnp.sum((jnp.mean(g, 1) - exact.reshape(1, -1)) ** 2, -1) - var / m  # [G]
    se = lambda a: jnp.std(a, ddof=1) / jnp.sqrt(groups)  # noqa: E731
    return jnp.mean(bias2), se(bias2), jnp.mean(var), se(var)


def train_control_variate(logits, f, key, config):
    """RELAX's (initial, trained) parameters: ``config.cv_steps`` Adam steps on the mean
    ``control_loss`` of ``config.cv_batch`` draws (the single-sample variance)."""
    est = estimators.make("relax", hidden_size=config.relax_hidden)
    dist = distrax.Independent(distrax.OneHotCategorical(logits), 1)
    batched = jax.vmap(f)
    k_init, k_train = jax.random.split(key)
    params = est.init_params(k_init, dist)
    opt = optax.adam(config.cv_lr)

    def loss(pr, k):
        return jnp.mean(jax.vmap(lambda kk: est(batched, dist, key=kk, params=pr).control_loss)(
            jax.random.split(k, config.cv_batch)))

    def step(carry, k):
        pr, state = carry
        updates, state = opt.update(jax.grad(loss)(pr, k), state, pr)
        return (optax.apply_updates(pr, updates), state), None

    (trained, _), _ = jax.jit(lambda pr: jax.lax.scan(
        step, (pr, opt.init(pr)), jax.random.split(k_train, config.cv_steps)))(params)
    return params, trained


def measure(config, logits, f, exact, key):
    """The plotted columns: tau, then NAME_{bias2, bias2_se, var, var_se} per estimator."""
    taus = jnp.asarray(config.taus, jnp.float32)
    n, groups = config.num_draws, config.num_groups
    cols = {"tau": np.asarray(taus)}

    def store(name, values):
        for col, a in zip(COLUMNS, values, strict=True):
            cols[f"{name}_{col}"] = np.broadcast_to(np.asarray(a), taus.shape)

    def over_taus(fn, i):
        """fn(tau, key) at every tau: vmapped for the first two estimators (as first drawn),
        one tau at a time for the rest (vmapped, the default run peaked at 8 GB, now 1.8)."""
        keys = jax.random.split(jax.random.fold_in(key, i), len(taus))
        if i < 2:
            return jax.jit(jax.vmap(fn))(taus, keys)
        return jax.jit(lambda ts, ks: jax.lax.map(lambda a: fn(*a), (ts, ks)))(taus, keys)

    for i, est in enumerate(ESTIMATORS):
        store(est, over_taus(lambda t, k, est=est: bias_variance(
            draws(logits, f, t, k, n, est, num_rao_samples=config.rao_samples), exact,
            groups), i))
    # REBAR with lambda = tau, eta = 1: unbiased at every temperature.
    store("rebar", over_taus(lambda t, k: bias_variance(draws(
        logits, f, t, k, n, "rebar", {"log_temperature": jnp.log(t), "eta": jnp.ones(())}),
        exact, groups), 4))
    _, trained = train_control_variate(logits, f, jax.random.fold_in(key, 5), config)
    store("relax_trained", jax.jit(lambda k: bias_variance(draws(
        logits, f, 1.0, k, n, "relax", trained, hidden_size=config.relax_hidden), exact,
        groups))(jax.random.fold_in(key, 6)))
    store("score_function", jax.jit(lambda k: bias_variance(
        draws(logits, f, 1.0, k, n, "score_function"), exact, groups))(
        jax.random.fold_in(key, 99)))
    return cols, float(jnp.exp(trained["log_temperature"]))


LABELS = {"gumbel_softmax": ("Gumbel-Softmax", "C0"),
          "st_gumbel_softmax": ("straight-through GS", "C1"),
          "gumbel_rao": ("Gumbel-Rao (ST-GS given b)", "C2"),
          "reinmax": ("ReinMax", "C4")}


def plot(config, cols, exact_sq, lam, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    tau = cols["tau"]
    for est, (label, color) in LABELS.items():
        axes[0].errorbar(tau, np.maximum(cols[f"{est}_bias2"], FLOOR),
                         yerr=2 * cols[f"{est}_bias2_se"], fmt="o-", color=color, ms=4,
                         label=f"{label} (±2 SE)")
        axes[1].errorbar(tau, cols[f"{est}_var"], yerr=2 * cols[f"{est}_var_se"],
                         fmt="o-", color=color, ms=4, label=f"{label} (±2 SE)")
    axes[1].errorbar(tau, cols["rebar_var"], yerr=2 * cols["rebar_var_se"], fmt="s--",
                     color="C5", ms=4, label="REBAR, λ = τ, η = 1 (unbiased)")
    axes[1].axhline(cols["relax_trained_var"][0], color="C6", ls="-.",
                    label=f"RELAX, c_φ trained (λ = {lam:.2g}; unbiased)")
    axes[0].axhline(exact_sq, color="k", ls=":", label="‖exact gradient‖²")
    axes[1].axhline(cols["score_function_var"][0], color="C3", ls="--",
                    label="score function, no baseline (unbiased)")
    axes[0].set(xscale="log", yscale="log", xlabel="temperature τ",
                ylim=(FLOOR / 2, None),
                ylabel=f"‖E[ĝ] − ∇E_q[f]‖²  (squared bias; ≤ 0 drawn at {FLOOR:g})",
                title=f"bias, {config.num_latent} latents × {config.num_classes} classes")
    axes[1].set(xscale="log", yscale="log", xlabel="temperature τ",
                ylabel="tr Cov[ĝ]  (one sample)", title="variance")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def make(config, outdir) -> FigureResult:
    outdir = pathlib.Path(outdir)
    logits, f = problem(config)
    exact = exact_gradient(logits, f)
    cols, lam = measure(config, logits, f, exact, jax.random.key(config.seed + 1))
    csv = save_csv(outdir / "discrete_bias_variance.csv", cols)
    exact_sq = float(jnp.sum(exact**2))
    png = outdir / "discrete_bias_variance.png"
    plot(config, cols, exact_sq, lam, png)

    gs_b, gs_v = cols["gumbel_softmax_bias2"], cols["gumbel_softmax_var"]
    at1 = list(config.taus).index(1.0)
    numbers = {"exact_grad_sqnorm": exact_sq,
               "gs_bias2_min_tau": float(gs_b[0]), "gs_bias2_min_tau_se":
               float(cols["gumbel_softmax_bias2_se"][0]),
               "gs_bias2_max_tau": float(gs_b[-1]),
               "gs_var_min_tau": float(gs_v[0]), "gs_var_max_tau": float(gs_v[-1]),
               "gs_bias_tau_spearman": _spearman(cols["tau"], gs_b),
               "gs_var_tau_spearman": _spearman(cols["tau"], gs_v),
               "sf_var": float(cols["score_function_var"][0]),
               "sf_bias2": float(cols["score_function_bias2"][0]),
               "sf_bias2_se": float(cols["score_function_bias2_se"][0]),
               "gr_over_st_var_max": float(np.max(cols["gumbel_rao_var"]
                                                  / cols["st_gumbel_softmax_var"])),
               "reinmax_bias2_tau1": float(cols["reinmax_bias2"][at1]),
               "st_bias2_tau1": float(cols["st_gumbel_softmax_bias2"][at1]),
               "rebar_bias2_max_z": float(np.max(np.abs(cols["rebar_bias2"])
                                                 / cols["rebar_bias2_se"])),
               "rebar_var_tau1": float(cols["rebar_var"][at1]),
               "relax_trained_var": float(cols["relax_trained_var"][0]),
               "relax_trained_lambda": lam}
    return FigureResult(
        claim="Gumbel-Softmax gradients trade bias for variance through tau: the squared bias "
              "grows and the variance falls as tau increases. Gumbel-Rao has straight-through "
              "GS's bias with lower variance at every tau. The score function, REBAR "
              "(lambda = tau) and RELAX (trained control variate) are unbiased.",
        files=[png, csv], numbers=numbers)


def _spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])
