"""Orbax checkpoints of the loop's state: atomic saves, restore of the latest on rerun."""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpointer:
    """Keeps the last ``keep`` checkpoints in ``directory``.

    Orbax writes each checkpoint into a temporary folder and renames it when complete, so a
    run killed mid-save leaves the previous checkpoint as the latest.
    """

    def __init__(self, directory: str | pathlib.Path, keep: int = 2):
        self.directory = pathlib.Path(directory).absolute()
        self._mngr = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

    def latest_step(self) -> int | None:
        return self._mngr.latest_step()

    def restore_or(self, target: Any) -> Any:
        """The latest checkpoint restored into ``target``'s structure, or ``target`` itself."""
        step = self._mngr.latest_step()
        if step is None:
            return target
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        try:
            return self._mngr.restore(step, args=ocp.args.StandardRestore(abstract))
        except (ValueError, KeyError) as e:
            raise ValueError(
                f"checkpoint {self.directory}/{step} does not match this config (different "
                f"model, number of seeds or sweep?): {e}. Use a fresh --workdir, or delete the "
                "old checkpoints.") from None

    def save(self, step: int, state: Any) -> None:
        self._mngr.save(step, args=ocp.args.StandardSave(state))
        self._mngr.wait_until_finished()

    def close(self) -> None:
        self._mngr.wait_until_finished()
        self._mngr.close()
