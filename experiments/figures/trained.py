"""Train an experiment through the shared loop for a figure, and get its final parameters."""

from __future__ import annotations

import pathlib

from experiments import registry
from rgrad import train


def train_and_restore(config, workdir: pathlib.Path):
    """Run (or resume) ``config`` in ``workdir``; returns (task, final metrics, params).

    The parameters are those of the first member, restored from the run's last checkpoint.
    """
    task = registry.make_task(config)
    out = train.train_and_evaluate(config, workdir, task=task, progress=False)
    return task, out["members"][0]["metrics"], train.member_slice(out["train_state"].params, 0)
