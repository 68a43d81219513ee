"""Checks of a run's config made before anything is written: one line naming field and fix."""

from __future__ import annotations

import ml_collections


def check_config(config: ml_collections.ConfigDict) -> None:
    """Raise ``ValueError`` naming the first field of ``config`` outside its domain."""
    for name in ("eval_every", "checkpoint_every"):
        if config[name] % config.log_every:
            raise ValueError(f"config.{name}={config[name]} must be a multiple of "
                             f"config.log_every={config.log_every} (metrics are averaged over "
                             "log windows, which a resume must not split).")
    if config.num_seeds < 1:
        raise ValueError(f"config.num_seeds must be >= 1, got {config.num_seeds}.")
