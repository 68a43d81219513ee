"""Top-layer gradient variance of a Bayesian MLP vs the posterior std, for three estimators.

At the initial parameters of a small Bayesian MLP on MNIST (experiments/tasks/bayes_mlp.py), every
weight's posterior std is set to s, and the variance of the stochastic gradient of the top
layer's variational parameters is measured over random (minibatch, noise) draws for the local
reparameterization trick, one weight sample per example, and one per minibatch (Kingma,
Salimans & Welling 2015, Table 1).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from experiments import registry, run
from experiments.figures.common import FigureResult, save_csv
from rgrad import bayes_layers as bl
from rgrad import plotting  # noqa: F401  (sets the Agg backend)


def with_log_std(params, log_std):
    """Every kernel_log_std leaf set to ``log_std``."""
    def f(path, x):
        return jnp.full_like(x, log_std) if path[-1].key == "kernel_log_std" else x
    return jax.tree_util.tree_map_with_path(f, params)


def make(config, outdir) -> FigureResult:
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    c = run.resolve(*config.experiment)
    task = registry.make_task(c)
    params, _ = task.init(jax.random.key(config.seed))
    stds = np.exp(np.asarray(config.log_stds))
    res = {m: np.zeros((len(stds), 2)) for m in bl.MODES}
    for i, ls in enumerate(config.log_stds):
        gv = task.grad_variances(with_log_std(params, ls), jax.random.key(config.seed + 1),
                                 config.draws)
        for m in bl.MODES:
            res[m][i] = gv[m]
    rel_se = np.sqrt(2.0 / (config.draws - 1))  # of one parameter's variance (upper bound)
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for j, what in enumerate(("posterior mean", "posterior log-std")):
        for k, m in enumerate(bl.MODES):
            ax[j].errorbar(stds, res[m][:, j], yerr=rel_se * res[m][:, j], fmt="o-",
                           color=f"C{k}", capsize=3, label=m)
        ax[j].set(xscale="log", yscale="log", xlabel="posterior std s of every weight",
                  ylabel="mean Var[gradient] (top layer)",
                  title=f"gradient wrt the top layer's {what}")
        ax[j].legend(fontsize=8, title="estimator")
    fig.suptitle(f"Bayesian MLP 784-{'-'.join(map(str, c.model.hidden))}-10 at initialisation, "
                 f"batch {c.batch_size}, {config.draws} (minibatch, noise) draws", fontsize=9)
    fig.tight_layout()
    png = outdir / "local_reparam_variance.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    cols = {"posterior_std": stds}
    for m in bl.MODES:
        cols[f"var_mean_{m}"], cols[f"var_logstd_{m}"] = res[m][:, 0], res[m][:, 1]
    csv = save_csv(outdir / "local_reparam_variance.csv", cols)
    numbers = {f"{k}_s{s:.3g}": float(v[i]) for k, v in cols.items() if k != "posterior_std"
               for i, s in enumerate(stds)}
    claim = ("The local reparameterization trick has the lowest variance of the top layer's "
             "gradient, one weight sample per minibatch the highest, with one sample per example "
             "between (for the log-std; for the mean it equals the local trick); the gaps grow "
             "with the posterior std, as weight noise overtakes minibatch noise.")
    return FigureResult(claim, [png, csv], numbers)
