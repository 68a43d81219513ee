"""Orbax checkpoints of the loop's state: atomic, verified saves; restore of the latest intact.

Orbax writes each checkpoint into a temporary folder and renames it when complete, so a run
killed mid-save leaves the previous checkpoint as the latest. Once the rename is done a digest
of the folder's files is written into it (:mod:`rgrad.checkpoint_digest`); a restore checks it
first, and a damaged latest checkpoint (flipped bytes, a truncated or missing file) is moved
aside (``<step>.damaged``) in favour of the newest intact one, with a note. With no intact
checkpoint left the restore refuses: it never silently starts over from step 0.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import orbax.checkpoint as ocp

from rgrad import checkpoint_digest as digest
from rgrad import clipping


class CheckpointError(ValueError):
    """No checkpoint in the folder is intact: the run cannot resume and does not start over."""


class Checkpointer:
    """Keeps the last ``keep`` checkpoints in ``directory``, each with a digest of its files.

    Attributes:
      notes: one-line messages of the last :meth:`restore_or` (fallbacks, unverified
        checkpoints, an old optimizer-state layout), for the run's log.
    """

    def __init__(self, directory: str | pathlib.Path, keep: int = 2):
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(
                f"keep_checkpoints={keep!r} keeps no checkpoint to resume from; use an integer "
                ">= 1 (2, the default, lets a damaged latest checkpoint fall back to the one "
                "before), e.g. --config.keep_checkpoints=2.")
        self.directory = pathlib.Path(directory).absolute()
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"{self.directory} is a file, not a folder of checkpoints; move "
                             "it away or use another --workdir.")
        self.notes: list[str] = []
        self._mngr = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

    def latest_step(self) -> int | None:
        return self._mngr.latest_step()

    def restore_or(self, target: Any) -> Any:
        """The newest intact checkpoint restored into ``target``'s structure, or ``target``
        itself when the folder holds no checkpoint.

        Raises:
          CheckpointError: checkpoints exist but none is intact (each one's damage is named).
          ValueError: the intact checkpoint does not fit ``target`` (another config).
        """
        self.notes = []
        steps = sorted(self._mngr.all_steps(), reverse=True)
        if not steps:
            return target
        damaged = []
        for step in steps:
            status, why = digest.check(self.directory / str(step))
            if status != digest.DAMAGED:
                break
            damaged.append((step, why))
        else:
            listed = "; ".join(f"step {s}: {why}" for s, why in damaged)
            raise CheckpointError(
                f"no intact checkpoint in {self.directory} ({listed}); not starting over from "
                "step 0. Move that folder away to retrain from scratch (or --restart), or put "
                "back a good copy (make resume restores snapshots/).")
        for s, why in damaged:  # newer than ``step``: out of orbax's way, kept to inspect
            moved = self._move_aside(s)
            self.notes.append(f"checkpoint {self.directory}/{s} is damaged ({why}); moved to "
                              f"{moved}, resuming from the previous intact checkpoint, "
                              f"step {step}")
        if damaged:
            if jax.process_count() > 1:  # every host sees the moves before orbax re-lists
                ocp.multihost.sync_global_processes("rgrad_checkpoint_moved_aside")
            self._mngr.reload()
        if status == digest.UNVERIFIED:
            others = any((self.directory / str(s) / digest.DIGEST_FILE).exists() for s in steps)
            why = ("the run was killed between its save and its digest" if others else
                   "saved before checkpoints had one")
            self.notes.append(f"checkpoint {self.directory}/{step} has no digest ({why}); "
                              "restored it unverified")
        return self._restore(step, target, verified=status == digest.INTACT)

    def _restore(self, step: int, target: Any, verified: bool) -> Any:
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        try:
            return self._mngr.restore(step, args=ocp.args.StandardRestore(abstract))
        except Exception as e:  # noqa: BLE001 (orbax raises bare Exception for unreadable data)
            error = e
        if clipping.has_slots(abstract):
            # Saved before the optimizer always had its clipping slot (a run without
            # clipping): restore that layout and put the (leafless) slots back.
            try:
                old = self._mngr.restore(step, args=ocp.args.StandardRestore(
                    clipping.without_slots(abstract)))
            except Exception:  # noqa: BLE001, S110 (the first error is the one reported)
                pass
            else:
                self.notes.append(f"checkpoint {self.directory}/{step} holds the optimizer "
                                  "state of before the clipping slot; mapped into the current "
                                  "layout")
                return clipping.with_slots(target, old)
        detail = " ".join(str(error).split())  # orbax's tree diff, on one line
        detail = detail[:400] + " ..." if len(detail) > 400 else detail or type(error).__name__
        # Intact, it can only be another config's state; without a digest it may be damaged.
        cause = "does not match this config (different model, number of seeds or sweep?)" \
            if verified else "could not be read: it has no digest, so it may be damaged, or " \
            "it holds another config's state"
        raise ValueError(f"checkpoint {self.directory}/{step} {cause}: {detail}. Use a fresh "
                         "--workdir, or move the old checkpoints away.") from None

    def _move_aside(self, step: int) -> pathlib.Path:
        """Rename ``<step>`` to ``<step>.damaged`` (``.damaged2``, ... if taken); process 0."""
        src = self.directory / str(step)
        dst, n = self.directory / f"{step}.damaged", 1
        while dst.exists():
            n += 1
            dst = self.directory / f"{step}.damaged{n}"
        if jax.process_index() == 0:  # one renamer on a shared filesystem
            src.rename(dst)
        return dst

    def save(self, step: int, state: Any) -> None:
        """Save ``state`` as ``step`` and, once orbax has finished, its digest."""
        saved = self._mngr.save(step, args=ocp.args.StandardSave(state))
        self._mngr.wait_until_finished()
        if saved and jax.process_index() == 0:  # one writer on a shared filesystem
            digest.write_digest(self.directory / str(step))

    def close(self) -> None:
        self._mngr.wait_until_finished()
        self._mngr.close()
