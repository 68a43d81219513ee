"""Figure: VAE training bound with pathwise vs score-function encoder gradients (claim 10)."""

from __future__ import annotations

import pathlib

from experiments.figures.common import FigureResult, finished_runs, save_csv
from experiments.figures.principles_common import pad_columns, savefig


def make(config, outdir) -> FigureResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    cols, numbers, finals = {}, {}, []
    runs = finished_runs(config.runs, outdir)
    for i, (label, (tag, r)) in enumerate(zip(config.labels, runs.items(), strict=True)):
        rows = r.metrics[(r.metrics["split"] == "train") & (r.metrics["member"] == 0)]
        steps, bound, gnorm = (rows[k].to_numpy() for k in ("step", "bound", "grad_norm"))
        final = float(r.final_frame["test_neg_elbo"].iloc[0])
        finals.append(final)
        axes[0].plot(steps, -bound, "o-", ms=3, color=f"C{i}",
                     label=f"{label} (test −ELBO {final:.1f})")
        axes[1].plot(steps, gnorm, "o-", ms=3, color=f"C{i}", label=label)
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
    others = ", ".join(f"{label} {f:.1f}" for label, f in
                       zip(config.labels[1:], finals[1:], strict=True))
    claim = (f"On the same budget ({config.num_steps} steps) the pathwise estimator ends with "
             f"the better bound: test -ELBO {finals[0]:.1f} nats vs {others}.")
    return FigureResult(claim, [png, csv], numbers)
