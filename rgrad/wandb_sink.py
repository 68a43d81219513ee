"""Optional Weights & Biases logging: one wandb run per member, grouped by the workdir.

On when ``config.wandb.project`` is set (``--config.wandb.project=rgrad``); ``wandb.mode``
"offline" writes the runs under ``workdir/wandb`` for a later ``wandb sync``. Each member's run
is named like its TensorBoard folder (``seed0``, ``seed1_lr=0.001``) and has the member's
hyperparameters as its config. The runs' ids are kept in ``workdir/wandb_ids.json``, so a
resumed run continues the same wandb runs (wandb ignores re-logged steps; TensorBoard and
``metrics.jsonl`` are the exact record).
"""

from __future__ import annotations

import json
import pathlib
import uuid
from typing import Any

import numpy as np


def enabled(config) -> bool:
    """Whether ``config`` asks for wandb (a ``wandb`` section with a project)."""
    section = config.get("wandb") if config is not None else None
    return bool(section and section.get("project") and section.get("mode") != "disabled")


class WandbSink:
    """The wandb runs of a run's members.

    Args:
      config: the resolved run config (its ``wandb`` section: project, entity, mode, group).
      workdir: the run's folder; wandb files go to ``workdir/wandb``.
      names: one run name per member.
      hparams: one flat config dict per member.
    """

    def __init__(self, config, workdir: pathlib.Path, names: list[str],
                 hparams: list[dict[str, Any]]):
        import wandb

        self._wandb = wandb
        w = config.wandb
        ids_path = workdir / "wandb_ids.json"
        ids = json.loads(ids_path.read_text()) if ids_path.exists() else {}
        ids = {n: ids.get(n) or uuid.uuid4().hex[:12] for n in names}
        ids_path.write_text(json.dumps(ids, indent=1))
        self.runs = [
            wandb.init(project=w.project, entity=w.get("entity") or None,
                       mode=w.get("mode") or "online", group=w.get("group") or workdir.name,
                       name=name, id=ids[name], resume="allow", dir=str(workdir), config=hp,
                       reinit="create_new")
            for name, hp in zip(names, hparams, strict=True)]

    def scalars(self, i: int, step: int, values: dict[str, float]) -> None:
        self.runs[i].log(values, step=step)

    def images(self, i: int, step: int, grids: dict[str, np.ndarray]) -> None:
        self.runs[i].log({k: self._wandb.Image(g) for k, g in grids.items()}, step=step)

    def close(self) -> None:
        for r in self.runs:
            r.finish()
