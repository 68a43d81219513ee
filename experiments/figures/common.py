"""What every figure returns, the CSV writer for the plotted numbers, and the figures' runs.

Runs: :func:`finished_runs` reads runs with :func:`rgrad.load_run` (config, metrics table,
final evaluation, parameters), training only those not yet finished with the stated config;
:func:`train_runs` gives :class:`experiments.run.Run` objects with their built task, for the
figures that evaluate the trained model again (predictions on a grid, samples).
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib

import numpy as np

import rgrad
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
        workdir = run_workdir(name, rest[0] if rest else "", outdir)
        out[name] = run.run(config_ref, dict(overrides), workdir=workdir)
    return out


def finished_runs(runs, outdir: str | pathlib.Path) -> dict[str, rgrad.runs.Run]:
    """Read the runs a figure config states, training only the ones not finished as stated.

    A run whose workdir holds ``final_metrics.json`` and whose saved ``config.json`` equals
    the stated config is read as it is (nothing is trained, built or evaluated again); any
    other is trained (or resumed) first, as :func:`train_runs` does.

    Args:
        runs: as :func:`train_runs`.
        outdir: the figure's folder.

    Returns:
        name -> :class:`rgrad.runs.Run`, in the order of ``runs``.
    """
    out = {}
    for name, config_ref, overrides, *rest in runs:
        workdir = run_workdir(name, rest[0] if rest else "", outdir)
        if not finished_as_stated(config_ref, dict(overrides), workdir):
            run.run(config_ref, dict(overrides), workdir=workdir)
        out[name] = rgrad.load_run(workdir)
    return out


def run_workdir(name: str, run_dir: str, outdir: str | pathlib.Path) -> pathlib.Path:
    """``ROOT/run_dir`` when given, else ``outdir/run_<name>``."""
    return ROOT / run_dir if run_dir else pathlib.Path(outdir) / f"run_{name}"


def finished_as_stated(config_ref, overrides: dict, workdir: pathlib.Path) -> bool:
    """Whether ``workdir`` holds a finished run of ``config_ref`` with ``overrides``."""
    if not (workdir / "final_metrics.json").exists():
        return False
    config = run.resolve(config_ref, overrides)
    differ = set(run.saved_overrides(config, workdir))
    if config.get("num_epochs", 0) > 0:  # the loop records num_steps resolved from the epochs
        differ.discard("num_steps")
    return not differ
