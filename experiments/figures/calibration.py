"""Predicting (mu, sigma): expected squared error drives sigma to 0; likelihood and ELBO calibrate.

The three runs (one per loss of :mod:`experiments.tasks.calibration`, which holds the model,
the losses and the calibration metrics) are stated in ``configs/figures/calibration.py`` and
trained by the shared loop; this module plots them: the predictive std on a grid against the
true noise s(x) (:meth:`CalibrationTask.predictive`), the mean predicted sigma during training
(the runs' logged ``mean_sigma``), and the reliability plot (the final ``coverage_pNN``).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from experiments.figures.common import FigureResult, save_csv, train_runs
from experiments.figures.common_runs import curves
from experiments.tasks.calibration import LEVELS, level_name, noise_std
from rgrad import plotting  # noqa: F401  (sets the Agg backend)

# The figure's number -> the run's final metric.
NUMBERS = {"sigma_ratio_median": "sigma_ratio_median",
           "aleatoric_ratio_median": "aleatoric_ratio_median", "rmse": "rmse",
           "coverage90": "coverage_p90", "max_calibration_error": "max_calibration_error",
           "max_calibration_z": "max_calibration_z"}


def make(config, outdir) -> FigureResult:
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    runs = train_runs(config.runs, outdir)
    levels = np.asarray(LEVELS)
    g = np.linspace(-1, 1, 201)
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    ax[0].plot(g, noise_std(g), "k--", label="true noise s(x)")
    cov, numbers = {}, {}
    for i, (name, r) in enumerate(runs.items()):
        m = r.metrics[0]
        cov[name] = np.array([m[f"coverage_{level_name(p)}"] for p in LEVELS])
        numbers |= {f"{name}_{k}": m[v] for k, v in NUMBERS.items()}
        mus, sigmas = (np.asarray(a) for a in r.task.predictive(
            r.params, jnp.asarray(g[:, None], jnp.float32), jax.random.key(config.grid_seed)))
        ax[0].plot(g, np.sqrt(np.mean(sigmas**2, 0) + np.var(mus, 0)), f"C{i}",
                   label=f"predictive std: {name}")
        if "kl_per_example" in m:  # the Bayesian network: its aleatoric part too
            numbers[f"{name}_kl_per_example"] = m["kl_per_example"]
            ax[0].plot(g, np.sqrt(np.mean(sigmas**2, 0)), f"C{i}:",
                       label=f"{name}: aleatoric sqrt(E_q sigma_w^2)")
        steps, sigma, _ = curves(r.workdir, "train", None, "mean_sigma")
        ax[1].plot(steps, sigma, f"C{i}", label=name)
        se = np.sqrt(levels * (1 - levels) / r.config.eval.num_test)
        ax[2].errorbar(levels, cov[name], yerr=se, fmt="o-", color=f"C{i}", ms=3, capsize=2,
                       label=name)
    num_test = runs["gaussian_nll"].config.eval.num_test
    ax[0].set(xlabel="x", ylabel="predicted std at x", yscale="log",
              title="learned noise level vs truth")
    ax[1].axhline(float(np.mean(noise_std(np.linspace(-1, 1, 1001)))), color="k", ls="--",
                  label="true mean noise")
    ax[1].set(xlabel="training step", ylabel="mean predicted sigma (BNN: sampled w)",
              xscale="log", yscale="log", title="sigma during training (mean per log interval)")
    ax[2].plot([0, 1], [0, 1], "k:", label="perfect calibration")
    ax[2].set(xlabel="nominal level p of the central predictive interval",
              ylabel="empirical coverage (±1 SE)", title=f"reliability ({num_test} test points)")
    for a in ax:
        a.legend(fontsize=7)
    fig.tight_layout()
    png = outdir / "calibration.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    csv = save_csv(outdir / "calibration.csv",
                   {"level": levels, **{f"coverage_{n}": c for n, c in cov.items()}})
    claim = ("Trained on the expected squared error E[(mu + sigma eps - y)^2] the predicted "
             "sigma collapses towards 0 and the predictive intervals badly under-cover; the "
             "Gaussian likelihood learns the true heteroscedastic noise s(x) and its intervals "
             "are calibrated (coverage on the diagonal); so is the mean-field Bayesian "
             "network trained on the ELBO with its KL term, whose predictive std (aleatoric "
             "plus weight uncertainty) tracks s(x).")
    return FigureResult(claim, [png, csv], numbers)
