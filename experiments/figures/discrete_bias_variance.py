"""Figure: bias and variance of Gumbel-Softmax gradients against tau, exact by enumeration."""

from __future__ import annotations

import itertools
import pathlib

import distrax
import jax
import jax.numpy as jnp
import numpy as np

from experiments.figures.common import FigureResult, save_csv
from rgrad import estimators
from rgrad.nn import bernoulli_log_prob

ESTIMATORS = ("gumbel_softmax", "st_gumbel_softmax")
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


def draws(logits, f, tau, key, n, estimator):
    """n single-sample gradient estimates w.r.t. the logits, by the named estimator.  # [n, L, K]"""
    est = estimators.make(estimator)
    batched = jax.vmap(f)  # [1, L, K] -> [1]

    def one(k):
        def sur(lg):
            dist = distrax.Independent(distrax.OneHotCategorical(lg), 1)
            return est(batched, dist, key=k, num_samples=1, temperature=tau).surrogate
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


def make(config, outdir) -> FigureResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    logits, f = problem(config)
    exact = exact_gradient(logits, f)
    key = jax.random.key(config.seed + 1)
    taus = jnp.asarray(config.taus, jnp.float32)
    n, groups = config.num_draws, config.num_groups
    cols = {"tau": np.asarray(taus)}
    for i, est in enumerate(ESTIMATORS):
        run = jax.jit(jax.vmap(lambda t, k, est=est: bias_variance(
            draws(logits, f, t, k, n, est), exact, groups)))
        keys = jax.random.split(jax.random.fold_in(key, i), len(config.taus))
        out = [np.asarray(a) for a in run(taus, keys)]
        for name, a in zip(("bias2", "bias2_se", "var", "var_se"), out, strict=True):
            cols[f"{est}_{name}"] = a
    sf = [float(a) for a in jax.jit(lambda k: bias_variance(
        draws(logits, f, 1.0, k, n, "score_function"), exact, groups))(
        jax.random.fold_in(key, 99))]
    for name, a in zip(("bias2", "bias2_se", "var", "var_se"), sf, strict=True):
        cols[f"score_function_{name}"] = np.full(len(config.taus), a)
    csv = save_csv(outdir / "discrete_bias_variance.csv", cols)
    exact_sq = float(jnp.sum(exact**2))

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    labels = {"gumbel_softmax": ("Gumbel-Softmax", "C0"),
              "st_gumbel_softmax": ("straight-through GS", "C1")}
    for est, (label, color) in labels.items():
        axes[0].errorbar(cols["tau"], np.maximum(cols[f"{est}_bias2"], FLOOR),
                         yerr=2 * cols[f"{est}_bias2_se"], fmt="o-", color=color, ms=4,
                         label=f"{label} (±2 SE)")
        axes[1].errorbar(cols["tau"], cols[f"{est}_var"], yerr=2 * cols[f"{est}_var_se"],
                         fmt="o-", color=color, ms=4, label=f"{label} (±2 SE)")
    axes[0].axhline(exact_sq, color="k", ls=":", label="‖exact gradient‖²")
    axes[1].axhline(sf[2], color="C3", ls="--", label="score function, no baseline (unbiased)")
    axes[0].set(xscale="log", yscale="log", xlabel="temperature τ",
                ylim=(FLOOR / 2, None),
                ylabel=f"‖E[ĝ] − ∇E_q[f]‖²  (squared bias; ≤ 0 drawn at {FLOOR:g})",
                title=f"bias, {config.num_latent} latents × {config.num_classes} classes")
    axes[1].set(xscale="log", yscale="log", xlabel="temperature τ",
                ylabel="tr Cov[ĝ]  (one sample)", title="variance")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    png = outdir / "discrete_bias_variance.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)

    gs_b, gs_v = cols["gumbel_softmax_bias2"], cols["gumbel_softmax_var"]
    numbers = {"exact_grad_sqnorm": exact_sq,
               "gs_bias2_min_tau": float(gs_b[0]), "gs_bias2_min_tau_se":
               float(cols["gumbel_softmax_bias2_se"][0]),
               "gs_bias2_max_tau": float(gs_b[-1]),
               "gs_var_min_tau": float(gs_v[0]), "gs_var_max_tau": float(gs_v[-1]),
               "gs_bias_tau_spearman": _spearman(cols["tau"], gs_b),
               "gs_var_tau_spearman": _spearman(cols["tau"], gs_v),
               "sf_var": sf[2], "sf_bias2": sf[0], "sf_bias2_se": sf[1]}
    return FigureResult(
        claim="Gumbel-Softmax gradients trade bias for variance through tau: the squared bias "
              "grows and the variance falls as tau increases; the score function is unbiased.",
        files=[png, csv], numbers=numbers)


def _spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])
