"""Train an experiment through the shared loop for a figure, and get its final parameters."""

from __future__ import annotations

import pathlib

import jax

from experiments import registry
from rgrad import checkpoint, train


def train_and_restore(config, workdir: pathlib.Path):
    """Run (or resume) ``config`` in ``workdir``; returns (task, final metrics, params).

    The parameters are those of the first member, restored from the run's last checkpoint.
    """
    task = registry.make_task(config)
    out = train.train_and_evaluate(config, workdir, task=task, progress=False)
    tx = task.optimizer(train.lr_schedule(config, None))
    ts = train.init_members(task, tx, config, train.members(config, task))
    ckpt = checkpoint.Checkpointer(pathlib.Path(workdir) / "checkpoints",
                                   keep=config.keep_checkpoints)
    try:
        ts = ckpt.restore_or(ts)
    finally:
        ckpt.close()
    return task, out["members"][0]["metrics"], jax.tree.map(lambda x: x[0], ts.params)
