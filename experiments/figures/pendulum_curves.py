"""Figure: Pendulum-v1 learning curves, SAC (pathwise) vs REINFORCE (score function)."""

from __future__ import annotations

import pathlib

import numpy as np

from configs import pendulum as pendulum_config
from experiments.figures.common import FigureResult, save_csv
from experiments.figures.common_runs import curves
from rgrad import train

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_config(config, variant):
    """The pendulum config of ``variant`` with the figure's budget (env steps, seeds)."""
    c = pendulum_config.get_config(variant)
    if config.num_seeds:
        c.num_seeds = config.num_seeds
    if config.env_steps:
        # SAC: one env step per loop step and env; REINFORCE: num_envs episodes of 200 steps.
        per_step = c.num_envs * (200 if c.algo == "reinforce" else 1)
        c.num_steps = config.env_steps // per_step
        c.checkpoint_every = c.eval_every = c.log_every * max(
            1, c.num_steps // (6 * c.log_every))
    return c


def make(config, outdir) -> FigureResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    cols, numbers = {}, {}
    for i, (label, variant, run_dir) in enumerate(config.runs):
        workdir = ROOT / run_dir if run_dir else outdir / f"run_{variant}"
        train.train_and_evaluate(run_config(config, variant), workdir, progress=False)
        x, mean, std = curves(workdir, "eval", "env_steps", "eval_return")
        ax.plot(x, mean, "o-", ms=3, color=f"C{i}", label=label)
        ax.fill_between(x, mean - std, mean + std, color=f"C{i}", alpha=0.2)
        name = pendulum_config.get_config(variant).algo
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
