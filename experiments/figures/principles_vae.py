"""Figure: VAE training bound with pathwise vs score-function encoder gradients (claim 10)."""

from __future__ import annotations

import pathlib

import numpy as np

from configs import vae as vae_config
from experiments.figures.common import FigureResult, save_csv
from experiments.figures.principles_common import pad_columns, savefig
from rgrad import metrics_io, train


def _label(est, baseline):
    return "pathwise" if est == "pathwise" else f"score function, baseline: {baseline}"


def make(config, outdir) -> FigureResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    cols, numbers, finals = {}, {}, []
    for i, (est, baseline) in enumerate(config.estimators):
        c = vae_config.get_config("quick")
        c.estimator, c.baseline = est, baseline
        c.num_steps, c.log_every = config.num_steps, config.log_every
        c.eval_every = c.checkpoint_every = config.num_steps
        tag = f"{est}_{baseline}"
        workdir = outdir / f"run_{tag}"
        out = train.train_and_evaluate(c, workdir, progress=False)
        rows = metrics_io.read_metrics(workdir, "train")
        steps = np.array([r["step"] for r in rows])
        bound = np.array([r["bound"] for r in rows])
        gnorm = np.array([r["grad_norm"] for r in rows])
        final = float(out["members"][0]["metrics"]["test_neg_elbo"])
        finals.append(final)
        axes[0].plot(steps, -bound, "o-", ms=3, color=f"C{i}",
                     label=f"{_label(est, baseline)} (test −ELBO {final:.1f})")
        axes[1].plot(steps, gnorm, "o-", ms=3, color=f"C{i}", label=_label(est, baseline))
        cols |= {f"{tag}_step": steps, f"{tag}_train_neg_bound": -bound,
                 f"{tag}_grad_norm": gnorm}
        numbers |= {f"{tag}_test_neg_elbo": final,
                    f"{tag}_final_train_neg_bound": float(-bound[-1])}
    axes[0].set(yscale="log", xlabel="step (batch 32)", ylabel="−ELBO on the minibatch (nats)",
                title=f"VAE 784-64-8 on MNIST, {config.num_steps} steps each")
    axes[0].legend(fontsize=8)
    axes[1].set(yscale="log", xlabel="step", ylabel="global gradient norm",
                title="gradient norm (score function: noisy encoder gradients)")
    axes[1].legend(fontsize=8)
    png = outdir / "principles_vae.png"
    savefig(fig, png)
    csv = save_csv(outdir / "principles_vae.csv", pad_columns(cols))
    others = ", ".join(f"{_label(e, b)} {f:.1f}" for (e, b), f in
                       zip(config.estimators[1:], finals[1:], strict=True))
    claim = (f"On the same budget ({config.num_steps} steps) the pathwise estimator ends with "
             f"the better bound: test -ELBO {finals[0]:.1f} nats vs {others}.")
    return FigureResult(claim, [png, csv], numbers)
