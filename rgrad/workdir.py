"""A run's workdir: its identity (which config it trains) and its lock (one process at a time).

Identity: a digest of the resolved config without the fields a resume may change
(:data:`RESUMABLE`: the run's length, logging/evaluation/checkpoint intervals, how many
checkpoints to keep, artifacts, where the data is found). It is written to ``identity.json``
when a run starts; a later process that would continue the run (the workdir holds a
checkpoint or a finished run) must carry the same identity, else :class:`RunIdentityError` is
raised before anything is written (``config.json`` included). An attempt that left no
checkpoint has nothing to continue: a new config starts afresh there, with a note. A workdir
written before identities existed (``config.json`` but no ``identity.json``) is adopted: the
fields both configs have are compared, and the identity is recorded.

Lock: ``workdir/.lock`` held with ``fcntl.flock`` for the process's whole run. The kernel
drops the lock when the process dies (even by SIGKILL), so a dead holder never blocks a rerun;
the file records the holder's pid for the refusal message. ``flock`` is per host: on a network
filesystem shared between machines it may not exclude a process on another host.

Ways out of a refused resume (see :func:`restart` and :func:`fork`): a new workdir; a restart,
which deletes every entry of the workdir; a fork, which copies the old run's latest checkpoint
(the full training state: parameters, optimizer and estimator state, key, step) into a new
empty workdir, where the new config continues from that step.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import shutil
from collections.abc import Iterator
from typing import Any

import ml_collections

IDENTITY_FILE = "identity.json"
LOCK_FILE = ".lock"
# Fields a resume may change: they set how long a run goes and what it logs, not what it trains.
# ``variant`` only labels the config file's variant (its fields are compared one by one);
# ``data.data_dir``/``data.download`` say where the data is found (data.json guards the data).
RESUMABLE = frozenset({
    "num_steps", "num_epochs", "log_every", "eval_every", "checkpoint_every",
    "keep_checkpoints", "artifacts", "variant", "data.data_dir", "data.download"})
# Logging sinks, and the device mesh (checkpoints hold the unpadded members, so a run may
# resume on another machine).
RESUMABLE_SECTIONS = ("wandb.", "logging.", "mesh.")


class RunIdentityError(ValueError):
    """The workdir holds a run of another config."""


class WorkdirLockedError(RuntimeError):
    """Another live process holds the workdir's lock."""


def config_fields(config: ml_collections.ConfigDict | dict) -> dict[str, Any]:
    """``{"optim.lr": 0.3, ...}``: the config's leaves by dotted name, as JSON values."""
    tree = config if isinstance(config, dict) else json.loads(config.to_json_best_effort())

    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict) and v:
                yield from flat(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}", v

    return dict(flat(tree))


def identity_fields(config: ml_collections.ConfigDict | dict) -> dict[str, Any]:
    """The fields that make a run's identity (all but :data:`RESUMABLE`)."""
    return {k: v for k, v in config_fields(config).items()
            if k not in RESUMABLE and not k.startswith(RESUMABLE_SECTIONS)}


def digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def changes(old: dict[str, Any], new: dict[str, Any], common_only: bool = False) -> list[str]:
    """``["optim.lr 0.3 -> 0.1", ...]`` for the fields whose JSON values differ."""
    keys = sorted(old.keys() & new.keys() if common_only else old.keys() | new.keys())
    show = lambda d, k: json.dumps(d[k]) if k in d else "(absent)"  # noqa: E731
    return [f"{k} {show(old, k)} -> {show(new, k)}" for k in keys if show(old, k) != show(new, k)]


def summary(diffs: list[str], limit: int = 8) -> str:
    more = f", and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return ", ".join(diffs[:limit]) + more


def stored_fields(workdir: pathlib.Path) -> tuple[dict[str, Any] | None, bool]:
    """The identity fields recorded in ``workdir`` and whether they come from a legacy
    ``config.json`` (no ``identity.json``); ``(None, False)`` for a workdir without a run."""
    path = workdir / IDENTITY_FILE
    if path.exists():
        return json.loads(path.read_text())["fields"], False
    if (workdir / "config.json").exists():
        return identity_fields(json.loads((workdir / "config.json").read_text())), True
    return None, False


def check_identity(workdir: str | pathlib.Path, config: ml_collections.ConfigDict) -> str | None:
    """Refuse a ``config`` other than the one ``workdir``'s run was started with.

    Only the fields both configs have are compared: a field added to (or removed from) the
    config code since the run started is named in the returned note, not refused.

    Returns:
        A note to print (an adopted legacy workdir, fields gained or lost), else None.

    Raises:
        RunIdentityError: one line listing the differing fields (old -> new) and the ways out.
    """
    workdir = pathlib.Path(workdir)
    old, legacy = stored_fields(workdir)
    if old is None:
        return None
    new = identity_fields(config)
    diffs = changes(old, new, common_only=True)
    if diffs and not has_progress(workdir):  # nothing to resume: the new config starts afresh
        return (f"{workdir} held no checkpoint of its earlier config ({summary(diffs, 4)}); "
                "starting afresh under this one")
    if diffs:
        raise RunIdentityError(
            f"{workdir} holds a run of another config ({summary(diffs)}); nothing was "
            f"changed. Use a new --workdir; or --fork_from={workdir} with a new --workdir to "
            "continue its latest checkpoint under this config; or --restart to delete "
            f"everything in {workdir} and start over.")
    notes = []
    if legacy:
        notes.append(f"{workdir} predates run identities (config.json, no {IDENTITY_FILE}): "
                     "adopted, as the fields both configs have agree")
    if old.keys() != new.keys():
        notes.append("fields the config gained or lost since the run started (not compared): "
                     + summary(changes({k: old[k] for k in old.keys() - new.keys()},
                                        {k: new[k] for k in new.keys() - old.keys()})))
    return "; ".join(notes) or None


def has_progress(workdir: pathlib.Path) -> bool:
    """Whether ``workdir`` holds training a rerun would continue (a checkpoint, or a finish)."""
    return latest_checkpoint(workdir) is not None or (workdir / "final_metrics.json").exists()


def identity_changes(workdir: str | pathlib.Path, config: ml_collections.ConfigDict
                     ) -> list[str]:
    """``["optim.lr 0.3 -> 0.1", ...]``: how ``config`` differs from the run in ``workdir``
    that a rerun would continue, over the fields both have (a field the config code gained or
    lost since is not a change); [] without such a run (no checkpoint and not finished)."""
    workdir = pathlib.Path(workdir)
    old, _ = stored_fields(workdir)
    if old is None or not has_progress(workdir):
        return []
    return changes(old, identity_fields(config), common_only=True)


def write_identity(workdir: str | pathlib.Path, config: ml_collections.ConfigDict,
                   forked_from: dict[str, Any] | None = None) -> None:
    """Record ``config``'s identity in ``workdir`` (call after :func:`check_identity` passed).

    A record of the same identity is kept as is; another one (fields gained or lost, or an
    attempt without checkpoints) is replaced, keeping its ``forked_from``.
    """
    path = pathlib.Path(workdir) / IDENTITY_FILE
    fields = identity_fields(config)
    if path.exists():
        old = json.loads(path.read_text())
        if old["identity"] == digest(fields):
            return
        forked_from = forked_from or old.get("forked_from")
    record = {"identity": digest(fields), "fields": fields, "resumable": sorted(RESUMABLE),
              "forked_from": forked_from}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(path)


_HELD: dict[str, list] = {}  # realpath -> [fd, depth]: this process's locks (re-entrant)


@contextlib.contextmanager
def locked(workdir: str | pathlib.Path) -> Iterator[None]:
    """Hold ``workdir``'s lock (created with the workdir) for the ``with`` block.

    Re-entrant within a process (an entry point may lock before the loop does).

    Raises:
        WorkdirLockedError: another process holds it (the message names its pid).
        OSError: the workdir cannot be created or written.
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(workdir)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    fd = os.open(workdir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 100, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise WorkdirLockedError(
            f"{workdir} is in use by another process (pid {holder}); nothing was changed. "
            "Wait for it to end, or use another --workdir.") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[key] = [fd, 1]
        yield
    finally:
        _HELD.pop(key, None)
        with contextlib.suppress(OSError):  # a full disk must not hide the real error
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _is_run(workdir: pathlib.Path) -> bool:
    return any((workdir / n).exists() for n in (IDENTITY_FILE, "config.json", "checkpoints"))


def restart(workdir: str | pathlib.Path) -> list[str]:
    """Delete every entry of a run's ``workdir`` but its lock (call holding the lock).

    Returns:
        The deleted names (folders with a trailing ``/``).

    Raises:
        ValueError: ``workdir`` is not empty and holds no run (no identity.json, config.json
            or checkpoints/): a restart deletes runs only.
    """
    workdir = pathlib.Path(workdir)
    entries = sorted(p for p in workdir.iterdir() if p.name != LOCK_FILE)
    if entries and not _is_run(workdir):
        raise ValueError(f"--restart: {workdir} holds no run (no {IDENTITY_FILE}, config.json "
                         "or checkpoints/); it deletes run workdirs only. Check --workdir.")
    names = [p.name + "/" * (p.is_dir() and not p.is_symlink()) for p in entries]
    for p in entries:
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    return names


def latest_checkpoint(workdir: pathlib.Path) -> int | None:
    """The last complete checkpoint's step in ``workdir/checkpoints`` (orbax's commit marker)."""
    from rgrad import checkpoint_digest

    return next(iter(checkpoint_digest.steps(workdir / "checkpoints")), None)


def fork(source: str | pathlib.Path, workdir: str | pathlib.Path,
         config: ml_collections.ConfigDict) -> str:
    """Start ``workdir`` (absent or empty) from ``source``'s latest checkpoint under ``config``.

    Copies the checkpoint (the full training state, so ``config`` must keep the state's
    shapes: same model, optimizer chain, seeds and sweep; learning rate, schedule, estimator
    options may change), ``data.json`` (the data check then applies) and the metrics up to
    that step, and records ``config``'s identity with where it was forked from. The loop then
    resumes there. Call holding both workdirs' locks.

    Returns:
        A note naming the source, the step and the changed fields.
    """
    source, workdir = pathlib.Path(source), pathlib.Path(workdir)
    if os.path.realpath(source) == os.path.realpath(workdir):
        raise ValueError("--fork_from must name another workdir than --workdir.")
    if any(p.name != LOCK_FILE for p in workdir.iterdir()):
        raise ValueError(f"--fork_from: {workdir} is not empty; fork into a new --workdir.")
    from rgrad import checkpoint_digest  # a damaged newest checkpoint is passed over

    step, damaged = checkpoint_digest.latest_intact(source / "checkpoints")
    if step is None:
        why = f" ({'; '.join(damaged)})" if damaged else ""
        raise ValueError(f"--fork_from={source}: no intact checkpoint in {source}/checkpoints"
                         f"{why}.")
    old, _ = stored_fields(source)
    diffs = changes(old or {}, identity_fields(config))
    shutil.copytree(source / "checkpoints" / str(step), workdir / "checkpoints" / str(step))
    if (source / "data.json").exists():
        shutil.copy2(source / "data.json", workdir / "data.json")
    if (source / "metrics.jsonl").exists():
        kept = [line for line in (source / "metrics.jsonl").read_text().splitlines(True)
                if line.endswith("\n") and json.loads(line)["step"] <= step]
        (workdir / "metrics.jsonl").write_text("".join(kept))
    write_identity(workdir, config, forked_from={
        "workdir": str(source.absolute()), "step": step,
        "identity": digest(old) if old is not None else None, "changed": diffs})
    skipped = f"; passed over damaged {'; '.join(damaged)}" if damaged else ""
    return (f"forked from {source} at step {step} (full training state); changed: "
            f"{summary(diffs) if diffs else 'nothing'}{skipped}")
