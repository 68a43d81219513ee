"""Fixed vs learned diffusion noise schedules on the 2-D ring (see configs/figures/...)."""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from experiments.figures.common import FigureResult, save_csv, train_runs
from experiments.tasks import diffusion
from rgrad import diffusion as dm
from rgrad import plotting  # noqa: F401  (plotting sets the Agg backend)


def analyse(config, r):
    """(final metrics, gamma(t) [101], samples [S, 2], paired per-example bounds) of one run."""
    task, params = r.task, r.params
    t = jnp.linspace(0.0, 1.0, 101)
    gamma = jax.vmap(task.gamma_fn(params))(t)
    samples = jax.jit(task.sample, static_argnums=(2, 3), compiler_options=dm.NO_YNN_FUSION)(
        params, jax.random.key(7), config.num_samples, config.sample_steps)
    # Per-example bounds with common random numbers (same x, t, eps for every schedule; t-draws
    # through gamma linear between the model's own endpoints): paired differences between
    # schedules have a far smaller standard error than the bounds themselves.
    x = jnp.asarray(task.test_x[: config.eval_examples])
    paired = jax.jit(task.vlb_estimates, static_argnums=(3, 4),
                     compiler_options=dm.NO_YNN_FUSION)(
        params, x, jax.random.key(2024), config.draws, "linear")[0]
    return (r.metrics[0], np.asarray(gamma), np.asarray(samples),
            np.asarray(paired.mean(1)))


def make(config, outdir) -> FigureResult:
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    res = {s: analyse(config, r) for s, r in train_runs(config.runs, outdir / "runs").items()}
    schedules = list(res)
    # Entropy of the ring (the best achievable bound), by Monte Carlo on held-out draws.
    x = diffusion.ring_sample(jax.random.key(99), 20000)
    lp = np.asarray(diffusion.ring_log_density(x))
    entropy, entropy_se = float(-lp.mean()), float(lp.std() / np.sqrt(len(lp)))

    n = len(schedules)
    fig, axes = plt.subplots(1, 3 + n, figsize=(4 * (3 + n), 3.8))
    t = np.linspace(0, 1, 101)
    for s in schedules:
        axes[0].plot(t, res[s][1], label=s)
    axes[0].set(xlabel="t", ylabel="gamma(t) = -log SNR", title="noise schedules")
    axes[0].legend(fontsize=7)
    idx = np.arange(n)
    var = [res[s][0]["diff_var"] for s in schedules]
    axes[1].bar(idx, var, color=[f"C{i}" for i in idx])
    axes[1].set(xticks=idx, yscale="log", ylabel="Var of one-draw diffusion loss (nats^2)",
                title="loss-estimate variance given x")
    axes[1].set_xticklabels(schedules, rotation=20, fontsize=7)
    bound = [res[s][0]["bound_nats"] for s in schedules]
    se = [res[s][0]["bound_nats_se"] for s in schedules]
    own = [res[s][0]["own_bound_nats"] for s in schedules]
    own_se = [res[s][0]["own_bound_nats_se"] for s in schedules]
    axes[2].errorbar(idx - 0.1, bound, yerr=se, fmt="o", capsize=4,
                     label="VLB, t-draws through linear gamma (MC, ±1 SE)")
    axes[2].errorbar(idx + 0.1, own, yerr=own_se, fmt="s", capsize=4, color="C1",
                     label="VLB, t-draws through own schedule")
    axes[2].axhline(entropy, color="k", ls="--", label="true entropy H(p)")
    axes[2].set(xticks=idx, ylabel="negative bound (nats / example)",
                title=f"bound after {config.num_steps} steps")
    axes[2].set_xticklabels(schedules, rotation=20, fontsize=7)
    if "learned" in res:
        lines = []
        for s in [s for s in schedules if s != "learned"]:
            d = res["learned"][3] - res[s][3]
            lines.append(f"learned - {s}: {d.mean():+.3f} ± {d.std() / np.sqrt(len(d)):.3f}")
        axes[2].text(0.02, 0.02, "paired (common draws):\n" + "\n".join(lines),
                     transform=axes[2].transAxes, fontsize=6, va="bottom")
    axes[2].legend(fontsize=7)
    for ax, s in zip(axes[3:], schedules, strict=True):
        diffusion.plot_ring_samples(res[s][2], None, f"samples: {s}", ax=ax)
    fig.tight_layout()
    png = outdir / "diffusion_schedules.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    csv = save_csv(outdir / "diffusion_schedules.csv", {
        "schedule": np.array(schedules), "diff_var": np.array(var),
        "bound_nats": np.array(bound), "bound_nats_se": np.array(se),
        "own_bound_nats": np.array(own), "own_bound_nats_se": np.array(own_se),
        "sample_in_mode": np.array([res[s][0]["sample_in_mode"] for s in schedules])})
    numbers = {"entropy_nats": entropy, "entropy_se": entropy_se}
    if "learned" in res:  # paired bound differences, learned minus fixed (common draws)
        for s in schedules:
            if s != "learned":
                d = res["learned"][3] - res[s][3]
                numbers[f"learned_minus_{s}_bound"] = float(d.mean())
                numbers[f"learned_minus_{s}_bound_se"] = float(d.std() / np.sqrt(len(d)))
    for s in schedules:
        m = res[s][0]
        numbers.update({f"{s}_diff_var": m["diff_var"], f"{s}_bound": m["bound_nats"],
                        f"{s}_bound_se": m["bound_nats_se"],
                        f"{s}_own_bound": m["own_bound_nats"],
                        f"{s}_own_bound_se": m["own_bound_nats_se"],
                        f"{s}_sample_in_mode": m["sample_in_mode"]})
    claim = ("With a denoiser conditioned on gamma_t, the learned schedule (VDM: endpoints by "
             "the bound, shape by the variance of the diffusion-loss estimate, its gradient "
             "through the reparameterized x_t) lowers the variance of the one-draw "
             "diffusion-loss estimate below that of its gamma-linear initialisation and far "
             "below DDPM-linear and cosine, trained on the same budget; the bounds (same "
             "expectation for every shape, shown with standard errors against the true "
             "entropy) agree within their errors: no bound improvement is resolved.")
    return FigureResult(claim, [png, csv], numbers)
