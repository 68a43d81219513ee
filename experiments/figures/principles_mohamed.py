"""Figure: variance of score-function (with and without baseline), pathwise and
measure-valued gradient estimators for three costs under N(mu, sigma^2), as in Mohamed,
Rosca, Figurnov & Mnih (2020), with numerical integration next to MC."""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from experiments.figures.common import FigureResult, save_csv
from experiments.figures.principles_common import (
    legendre_nodes,
    normal_nodes_dense,
    pad_columns,
    savefig,
    variance_and_se,
)
from rgrad import estimators

COSTS = ("(x − k)²", "exp(−k x²)", "cos(k x)")
ESTIMATORS = ("score function", "score function + baseline", "pathwise", "measure-valued")


def cost_np(i: int, x, k):
    """Cost i and its derivative (float64 NumPy, for the quadrature)."""
    if i == 0:
        return (x - k) ** 2, 2.0 * (x - k)
    if i == 1:
        e = np.exp(-k * x**2)
        return e, -2.0 * k * x * e
    return np.cos(k * x), -k * np.sin(k * x)


def cost_jax(i, x, k):
    """Cost i (traced index) of one sample `[1]` -> scalar."""
    vals = jnp.stack([jnp.square(x - k), jnp.exp(-k * x**2), jnp.cos(k * x)])  # [3, 1]
    return jnp.sum(vals[i])


def quadrature_variances(i: int, k: float, mu: float, s: float) -> dict[str, np.ndarray]:
    """Per estimator: (Var d/dmu, Var d/dsigma) of one sample, by numerical integration."""
    eps, w = normal_nodes_dense()
    f, df = cost_np(i, mu + s * eps, k)
    ef = np.sum(w * f)

    def var(g, weights=w):
        return float(np.sum(weights * g**2) - np.sum(weights * g) ** 2)

    out = {
        "score function": (var(f * eps / s), var(f * (eps**2 - 1.0) / s)),
        "score function + baseline": (var((f - ef) * eps / s),
                                      var((f - ef) * (eps**2 - 1.0) / s)),
        "pathwise": (var(df), var(df * eps)),
    }
    # Measure-valued, coupled as in rgrad.estimators: mean part with one Rayleigh W for both
    # sides, scale part (f(mu + s M) - f(mu + s U M)) / s with M double-sided Maxwell.
    r, rw = legendre_nodes(600)
    r, rw = 6.0 * (r + 1.0), 6.0 * rw * (6.0 * (r + 1.0)) * np.exp(-0.5 * (6.0 * (r + 1.0))**2)
    rw = rw / rw.sum()  # Rayleigh(1) density w exp(-w^2 / 2) on [0, 12]
    g_mean = (cost_np(i, mu + s * r, k)[0] - cost_np(i, mu - s * r, k)[0]) / (
        np.sqrt(2.0 * np.pi) * s)
    u, uw = legendre_nodes(64)
    u, uw = 0.5 * (u + 1.0), 0.5 * uw
    mw = w * eps**2  # double-sided Maxwell m^2 phi(m), as weights on the normal nodes
    m_grid, u_grid = eps[:, None], u[None, :]
    g_scale = (cost_np(i, mu + s * m_grid, k)[0] - cost_np(i, mu + s * u_grid * m_grid, k)[0]) / s
    out["measure-valued"] = (var(g_mean, rw), var(g_scale.ravel(), (mw[:, None] * uw[None, :])
                                                   .ravel()))
    return {name: np.asarray(v) for name, v in out.items()}


def mc_draws(key, cost_ids, ks, mus, sigmas, baselines, num_samples: int):
    """Per-sample (d/dmu, d/dsigma) draws `[P, 4 estimators, 2, N]` over grid points P."""
    def one(cid, k, mu, s, b, key):
        cost = lambda x: cost_jax(cid, x, k)
        params = [mu[None], jnp.log(s)[None]]
        keys = jax.random.split(key, 4)
        b_cost = lambda x: cost(x) - b
        out = []
        for j, (est, f) in enumerate(((estimators.score_function_jacobians, cost),
                                      (estimators.score_function_jacobians, b_cost),
                                      (estimators.pathwise_jacobians, cost),
                                      (estimators.measure_valued_jacobians, cost))):
            jm, jl = est(f, params, estimators.multi_normal, keys[j], num_samples)
            out.append(jnp.stack([jm[:, 0], jl[:, 0] / s]))  # d/dsigma = d/dlog_sigma / s
        return jnp.stack(out)

    args = [jnp.asarray(a, jnp.float32) for a in (ks, mus, sigmas, baselines)]
    keys = jax.random.split(key, len(mus))
    run = jax.jit(jax.vmap(one))
    return np.asarray(run(jnp.asarray(cost_ids), *args, keys))


def make(config, outdir) -> FigureResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    mus = np.linspace(*config.mu_range, config.num_mu)
    sigmas = np.logspace(*config.log10_sigma, config.num_sigma)
    # One grid of (cost, mu, sigma) points, all costs and both sweeps in one program.
    pts = [(i, m, config.sigma_at_mu, "mu") for i in range(3) for m in mus]
    pts += [(i, config.mu_for_sigma, s, "sigma") for i in range(3) for s in sigmas]
    cids = np.array([p[0] for p in pts], np.int32)
    ks = np.array([config.k[p[0]] for p in pts])
    pm = np.array([p[1] for p in pts])
    ps = np.array([p[2] for p in pts])
    eps, w = normal_nodes_dense()
    base = np.array([np.sum(w * cost_np(i, m + s * eps, k)[0])
                     for i, k, m, s in zip(cids, ks, pm, ps, strict=True)])
    draws = mc_draws(jax.random.key(config.seed), cids, ks, pm, ps, base, config.num_samples)
    var, se = variance_and_se(draws, axis=-1)  # [P, 4, 2]
    quad = [quadrature_variances(int(i), k, m, s) for i, k, m, s in zip(cids, ks, pm, ps,
                                                                          strict=True)]
    quad = np.array([[q[e] for e in ESTIMATORS] for q in quad])  # [P, 4, 2]

    zero = quad < 1e-10
    fig, axes = plt.subplots(3, 4, figsize=(20, 13))
    cols, numbers = {}, {}
    # Where the integrated variance is 0 (measure-valued d/dmu of (x - k)^2 at mu = k) the MC
    # variance is float32 round-off: checked separately, left out of the z-scores.
    z = np.where(zero, 0.0, np.abs(var - quad) / np.maximum(se, 1e-30))
    numbers["max_mc_var_where_exact_zero"] = float(var[zero].max()) if zero.any() else 0.0
    for i, cname in enumerate(COSTS):
        for sweep_j, (sweep, xs) in enumerate((("mu", mus), ("sigma", sigmas))):
            sel = np.array([p[0] == i and p[3] == sweep for p in pts])
            for pj, pname in enumerate(("μ", "σ")):
                ax = axes[i, 2 * sweep_j + pj]
                for e, ename in enumerate(ESTIMATORS):
                    # Exact zeros (measure-valued d/dmu at symmetric points) are not drawn.
                    nz = np.where(zero[sel, e, pj], np.nan, 1.0)
                    ax.plot(xs, nz * quad[sel, e, pj], color=f"C{e}",
                            label=f"{ename}: integration")
                    ax.errorbar(xs, nz * var[sel, e, pj], yerr=se[sel, e, pj], fmt="o", ms=3,
                                color=f"C{e}", capsize=2, label=f"{ename}: MC ± 1 SE")
                    tag = f"{('quadratic', 'exp', 'cos')[i]}_{sweep}_d{('mu', 'sigma')[pj]}"
                    etag = ename.replace(" ", "_").replace("+", "plus")
                    cols |= {f"{tag}_{etag}_quad": quad[sel, e, pj],
                             f"{tag}_{etag}_mc": var[sel, e, pj],
                             f"{tag}_{etag}_se": se[sel, e, pj]}
                fixed = (f"σ = {config.sigma_at_mu:g}" if sweep == "mu"
                         else f"μ = {config.mu_for_sigma:g}")
                ax.set(yscale="log", xscale="linear" if sweep == "mu" else "log",
                       xlabel=sweep.replace("mu", "μ").replace("sigma", "σ"),
                       ylabel=f"Var of ∂/∂{pname} estimate",
                       title=f"f = {cname}, k = {config.k[i]:g}, {fixed}: ∂/∂{pname}")
                if i == 0 and sweep_j == 0 and pj == 0:
                    ax.legend(fontsize=7)
    for e, ename in enumerate(ESTIMATORS):
        numbers[f"max_z_{ename.replace(' ', '_').replace('+', 'plus')}"] = float(z[:, e].max())
    numbers["median_rel_err"] = float(np.median(np.abs(var - quad)[~zero] / quad[~zero]))
    numbers["num_points"] = float(z.size)
    # Score function vs pathwise at sigma = 1 (mu sweep), all costs and both parameters.
    sel_mu = np.array([p[3] == "mu" for p in pts])
    numbers["frac_pathwise_below_score_mu_sweep"] = float(
        np.mean(quad[sel_mu, 2] < quad[sel_mu, 0]))
    numbers["frac_baseline_below_score"] = float(np.mean(quad[:, 1] <= quad[:, 0] * (1 + 1e-9)))
    cols["mu_grid"], cols["sigma_grid"] = mus, sigmas
    png = outdir / "principles_mohamed.png"
    savefig(fig, png)
    csv = save_csv(outdir / "principles_mohamed.csv", pad_columns(cols))
    claim = ("Single-sample variances of the score-function (with/without the exact baseline), "
             "pathwise and measure-valued estimators for (x-k)^2, exp(-k x^2), cos(k x) under "
             "N(mu, sigma^2): MC agrees with numerical integration (median relative error "
             f"{numbers['median_rel_err']:.1%}); pathwise is below the plain score function "
             f"at {numbers['frac_pathwise_below_score_mu_sweep']:.0%} of the sigma = 1 points.")
    return FigureResult(claim, [png, csv], numbers)
