"""Run length and the generic learning-rate schedules of ``config.optim``.

Experiment-specific schedules (the IWAE paper's 3^i-epoch stages) live with their experiment,
in its :meth:`rgrad.task.Task.schedule`; this module knows none of them.
"""

from __future__ import annotations

import ml_collections
import optax

SCHEDULES = ("constant", "cosine", "warmup_cosine")


def total_steps(config: ml_collections.ConfigDict, steps_per_epoch: int | None) -> int:
    """The run's length in steps: ``num_epochs * steps_per_epoch`` when epochs are set."""
    if config.get("num_epochs", 0):
        if steps_per_epoch is None:
            raise ValueError("config.num_epochs needs a dataset; set num_steps instead.")
        return int(config.num_epochs * steps_per_epoch)
    return int(config.num_steps)


def lr_schedule(optim: ml_collections.ConfigDict, num_steps: int) -> optax.Schedule:
    """``optim.schedule``: constant, cosine or warmup_cosine from ``optim.lr``."""
    if optim.schedule == "constant":
        return optax.constant_schedule(optim.lr)
    if optim.schedule == "cosine":
        return optax.cosine_decay_schedule(optim.lr, max(num_steps, 1))
    if optim.schedule == "warmup_cosine":
        if optim.warmup_steps >= num_steps:
            raise ValueError(f"config.optim.warmup_steps={optim.warmup_steps} must be below the "
                             f"run's {num_steps} steps for schedule='warmup_cosine'; shorten the "
                             "warm-up or lengthen the run.")
        return optax.warmup_cosine_decay_schedule(0.0, optim.lr, optim.warmup_steps,
                                                  max(num_steps, 1))
    raise ValueError(f"config.optim.schedule={optim.schedule!r} is unknown here; use one of "
                     f"{', '.join(SCHEDULES)} (or a schedule this experiment defines).")
