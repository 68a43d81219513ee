"""Figure: Pendulum-v1 learning curves, SAC (pathwise) vs REINFORCE (score function)."""

from __future__ import annotations

import pathlib

import numpy as np

from experiments.figures.common import FigureResult, finished_runs, save_csv
from experiments.figures.common_runs import curves


def make(config, outdir) -> FigureResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    cols, numbers = {}, {}
    runs = finished_runs(config.runs, outdir)
    for i, (label, r) in enumerate(zip(config.labels, runs.values(), strict=True)):
        x, mean, std = curves(r.workdir, "eval", "env_steps", "eval_return")
        ax.plot(x, mean, "o-", ms=3, color=f"C{i}", label=label)
        ax.fill_between(x, mean - std, mean + std, color=f"C{i}", alpha=0.2)
        name = r.config.algo
        cols |= {f"{name}_env_steps": x, f"{name}_return_mean": mean, f"{name}_return_std": std}
        numbers |= {f"{name}_final_return_mean": float(mean[-1]),
                    f"{name}_final_return_std": float(std[-1]),
                    f"{name}_env_steps": float(x[-1])}
    ax.axhline(-157, color="k", ls="--", lw=0.8, label="SB3 zoo SAC at 20k steps (−157)")
    ax.set(xlabel="environment steps (per seed)", ylabel="return (deterministic policy)",
           title="Pendulum-v1 (gymnax), mean ± std over seeds")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    png = outdir / "pendulum_curves.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    n = max(len(v) for v in cols.values())
    csv = save_csv(outdir / "pendulum_curves.csv",
                   {k: np.pad(v, (0, n - len(v)), constant_values=np.nan) for k, v in cols.items()})
    claim = (f"SAC's reparameterized actor reaches {numbers['sac_final_return_mean']:.0f} ± "
             f"{numbers['sac_final_return_std']:.0f} after {numbers['sac_env_steps']:.0f} steps; "
             f"REINFORCE on the same budget stays at "
             f"{numbers['reinforce_final_return_mean']:.0f}.")
    return FigureResult(claim, [png, csv], numbers)
