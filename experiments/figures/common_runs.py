"""Read a finished run's metrics (mean and std over seeds per step)."""

from __future__ import annotations

import pathlib

import numpy as np

import rgrad


def curves(workdir: pathlib.Path, split: str, x: str | None, y: str):
    """Per logged step: x (the step, or a metric), mean and std (ddof = 1) of y over members.

    Returns:
      ``(x, mean, std)`` arrays ``[S]`` over the S logged steps of ``split`` that have ``y``;
      x is the mean over members of metric ``x`` (or the step when None); std is NaN where
      only one member logged.
    """
    frame = rgrad.load_run(workdir).metrics
    frame = frame[(frame["split"] == split) & frame[y].notna()]
    by_step = frame.groupby("step", sort=True)
    xs = by_step[x].mean().to_numpy() if x else np.asarray(sorted(by_step.groups), float)
    return (xs, by_step[y].mean().to_numpy(),
            by_step[y].std(ddof=1).to_numpy())
