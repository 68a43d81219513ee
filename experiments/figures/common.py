"""What every figure returns, the CSV writer for the plotted numbers, and the figures' runs."""

from __future__ import annotations

import csv
import dataclasses
import pathlib

import numpy as np

from experiments import run

ROOT = pathlib.Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class FigureResult:
    """A drawn figure: the claim it illustrates, its files, and the numbers that show it."""

    claim: str
    files: list[pathlib.Path]
    numbers: dict[str, float]


def save_csv(path: str | pathlib.Path, columns: dict[str, np.ndarray]) -> pathlib.Path:
    """Write equal-length columns (the plotted numbers) as CSV."""
    path = pathlib.Path(path)
    names = list(columns)
    arrays = [np.asarray(columns[n]).ravel() for n in names]
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"save_csv: columns of unequal length {[len(a) for a in arrays]}.")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        w.writerows(zip(*[a.tolist() for a in arrays], strict=True))
    return path


def train_runs(runs, outdir: str | pathlib.Path) -> dict[str, run.Run]:
    """Train (or resume, or when finished only re-evaluate) the runs a figure config states.

    Args:
        runs: ``(name, config_ref, overrides)`` or ``(name, config_ref, overrides, run_dir)``
            tuples, e.g. ``("sgd", "configs/vae.py:quick", {"optim.lr": 1e-3})``; ``run_dir``
            is relative to the repository root, "" (or absent) trains in
            ``outdir/run_<name>``.
        outdir: the figure's folder.

    Returns:
        name -> :class:`experiments.run.Run`, in the order of ``runs``.
    """
    out = {}
    for name, config_ref, overrides, *rest in runs:
        run_dir = rest[0] if rest else ""
        workdir = ROOT / run_dir if run_dir else pathlib.Path(outdir) / f"run_{name}"
        out[name] = run.run(config_ref, dict(overrides), workdir=workdir)
    return out
