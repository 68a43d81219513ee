"""Finished (or running) runs read back from their workdirs, without training.

    import rgrad
    run = rgrad.load_run("runs/vae")
    run.metrics.query("split == 'eval'")      # pandas: step, split, member, seed, point, ...
    run.final_frame                           # final evaluation, one row per member
    run.params                                # first member's parameters (raw pytree)

A workdir written by :func:`rgrad.train.train_and_evaluate` holds ``config.json`` (the resolved
config), ``metrics.jsonl`` (one line per logged step, split and member), ``final_metrics.json``
(the final evaluation; its presence marks a finished run) and ``checkpoints/<step>/``
(orbax). :func:`load_run` reads all of them; nothing is trained, evaluated or compiled.

Parameters without the task: ``rgrad`` never imports ``experiments/`` (where tasks are
built), so the checkpoint is restored *without a target*, as the raw pytree orbax stored with
NumPy leaves. Dicts stay dicts (most parameters here are), NamedTuples come back as dicts keyed
by field name, tuples as lists (e.g. optax states), custom pytree classes as their children.
For the task's own types, unflatten into its structure: ``jax.tree.unflatten(jax.tree.structure(
task.init(key)[0]), jax.tree.leaves(run.member_params(i)))`` (dicts keep their leaf order).

A sweep written by ``experiments.sweep`` (one workdir per point below a parent) is read by
:func:`load_sweep`, which stacks the runs' tables and adds the config fields that differ
between the points as columns.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
from typing import TYPE_CHECKING, Any

import jax
import ml_collections
import numpy as np

if TYPE_CHECKING:  # pandas costs ~0.4 s to import: only when a table is asked for
    import pandas as pd

__all__ = ["Run", "Sweep", "load_run", "load_sweep", "seed_stats"]

_KEYS = ("step", "split", "member", "seed", "point")


@dataclasses.dataclass
class Run:
    """One run's workdir, read back. Build it with :func:`load_run`.

    Attributes:
        workdir: the run's folder.
        config: the resolved config the run recorded (``config.json``), a ConfigDict; JSON
            turned its tuples into lists.
        members: one dict per member, ``{"seed": s, "point": p, "hparams": {...}}``, in the
            loop's order (points outermost). ``hparams`` holds the swept values (all of the
            task's hyperparameters when the run finished).
        final: ``final_metrics.json`` (``{"members", "summary"}``), None while unfinished.
    """

    workdir: pathlib.Path
    config: ml_collections.ConfigDict
    members: list[dict[str, Any]]
    final: dict[str, Any] | None

    finished = property(lambda self: self.final is not None, doc="Whether the run ended.")

    @functools.cached_property
    def metrics(self) -> pd.DataFrame:
        """Every logged metric, one row per (step, split, member).

        Columns: ``step``, ``split`` ("train" or "eval"), ``member``, ``seed`` (the seed's
        index, 0..num_seeds-1), ``point`` (the vmap sweep point), one column per swept
        hyperparameter (its value at the member's point), then the metrics (NaN where a
        metric was not logged in that split; non-finite values logged as text are floats).
        """
        import pandas as pd

        path = self.workdir / "metrics.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        frame = pd.DataFrame([json.loads(line) for line in lines if line.strip()])
        if frame.empty:
            return pd.DataFrame(columns=[*_KEYS, *self._swept])
        return self._with_members(frame)

    @functools.cached_property
    def final_frame(self) -> pd.DataFrame:
        """The final evaluation, one row per member (columns as :attr:`metrics`, no step)."""
        import pandas as pd

        if self.final is None:
            raise ValueError(f"{self.workdir} has no final_metrics.json: the run is unfinished "
                             "(rerun its command to finish it, or read run.metrics).")
        rows = [{"member": i, **m["metrics"]} for i, m in enumerate(self.final["members"])]
        return self._with_members(pd.DataFrame(rows))

    def curves(self, metric: str, split: str = "train") -> pd.DataFrame:
        """``metric`` over seeds per (point, step): columns point, step, mean, std, n, sem.

        ``std`` has ddof = 1 (NaN with one seed) and ``sem`` = std / sqrt(n).
        """
        frame = self.metrics
        if metric not in frame.columns:
            names = [c for c in frame.columns if c not in (*_KEYS, *self._swept)]
            raise ValueError(f"{self.workdir} logged no metric {metric!r}; its metrics: "
                             f"{', '.join(names)}.")
        frame = frame[(frame["split"] == split) & frame[metric].notna()]
        return seed_stats(frame, metric, ["point", *self._swept, "step"])

    @functools.cached_property
    def checkpoint(self) -> dict[str, Any]:
        """The last checkpoint's loop state of all members, a raw pytree (module docstring).

        Keys step, params, opt_state, state, key, hparams; NumPy leaves ``[M, ...]``.
        """
        step = self.checkpoint_step
        if step is None:
            raise ValueError(f"{self.workdir} has no finished checkpoint yet (checkpoints are "
                             "written every config.checkpoint_every steps).")
        return _restore_raw(self.workdir / "checkpoints" / str(step))

    @property
    def checkpoint_step(self) -> int | None:
        """The step of the newest intact checkpoint (damaged newer ones skipped), or None."""
        from rgrad.checkpoint_digest import latest_intact  # pure Python: no orbax

        return latest_intact(self.workdir / "checkpoints")[0]

    all_params = property(lambda self: self.checkpoint["params"],
                          doc="Every member's parameters, leaves ``[M, ...]``.")
    params = property(lambda self: self.member_params(0),
                      doc="The first member's parameters (leaves without the member axis).")

    def member_params(self, i: int) -> Any:
        """Member ``i``'s parameters (``run.members[i]`` says its seed and point)."""
        if not 0 <= i < len(self.members):
            raise ValueError(f"member {i} does not exist; this run has {len(self.members)} "
                             f"members (0..{len(self.members) - 1}).")
        return jax.tree.map(lambda x: x[i], self.all_params)

    @property
    def _swept(self) -> list[str]:  # the hyperparameters of config.vmap_sweep
        return list(dict.fromkeys(k for p in _points(self.config) for k in p))

    def _with_members(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add seed, point and the swept hyperparameters by the ``member`` column."""
        frame = frame.copy()
        member = frame["member"].astype(int)
        frame["seed"] = member.map(lambda i: self.members[i]["seed"])
        frame["point"] = member.map(lambda i: self.members[i]["point"])
        for name in self._swept:
            frame[name] = member.map(lambda i, n=name: self.members[i]["hparams"][n])
        metric_cols = [c for c in frame.columns if c not in (*_KEYS, *self._swept)]
        for c in metric_cols:  # non-finite values are logged as the strings "nan", "inf"
            if frame[c].dtype == object:
                frame[c] = frame[c].map(_number)
        keys = [c for c in (*_KEYS, *self._swept) if c in frame.columns]
        return frame[keys + metric_cols].reset_index(drop=True)


def load_run(workdir: str | pathlib.Path) -> Run:
    """Read the run in ``workdir`` (finished or not): config, metrics, final evaluation, params.

    Reading is lazy: the metrics table is parsed on first access of ``run.metrics`` and the
    checkpoint restored on first access of ``run.params`` (orbax is imported then).

    Args:
        workdir: a folder written by :func:`rgrad.train.train_and_evaluate` (holds config.json).

    Returns:
        A :class:`Run`.

    Raises:
        ValueError: when ``workdir`` holds no ``config.json``.
    """
    workdir = pathlib.Path(workdir)
    path = workdir / "config.json"
    if not path.exists():
        hint = (" It looks like a sweep: use rgrad.load_sweep." if any(
            workdir.glob("*/config.json")) else " Give the --workdir a run was started with.")
        raise ValueError(f"{workdir} holds no config.json, so it is not a run's workdir.{hint}")
    config = ml_collections.ConfigDict(json.loads(path.read_text()))
    final_path = workdir / "final_metrics.json"
    final = json.loads(final_path.read_text()) if final_path.exists() else None
    if final is not None:
        members = [{k: m[k] for k in ("seed", "point", "hparams")} for m in final["members"]]
    else:  # the loop's order: points outermost, seeds inner (rgrad.members.members)
        members = [{"seed": s, "point": i, "hparams": dict(p)}
                   for i, p in enumerate(_points(config))
                   for s in range(int(config.get("num_seeds", 1)))]
    return Run(workdir=workdir, config=config, members=members, final=final)


@dataclasses.dataclass
class Sweep:
    """The runs of a sweep parent folder (one workdir per point). Build with :func:`load_sweep`.

    Attributes:
        workdir: the sweep's parent folder.
        runs: point folder name -> :class:`Run`, sorted by name.
        varying: the dotted config fields whose values differ between the runs.
    """

    workdir: pathlib.Path
    runs: dict[str, Run]
    varying: list[str]

    def _stack(self, attr: str) -> pd.DataFrame:
        import pandas as pd

        frames = []
        for name, run in self.runs.items():
            if attr == "final_frame" and not run.finished:
                continue
            frame = getattr(run, attr).copy()
            flat = dict(_flatten(run.config.to_dict()))
            for i, field in enumerate(self.varying):
                frame.insert(i, field, [flat.get(field)] * len(frame))
            frame.insert(0, "run", name)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @functools.cached_property
    def metrics(self) -> pd.DataFrame:
        """Every run's :attr:`Run.metrics`, with ``run`` and the varying fields as columns."""
        return self._stack("metrics")

    @functools.cached_property
    def final_frame(self) -> pd.DataFrame:
        """The finished runs' :attr:`Run.final_frame`, with ``run`` and the varying fields."""
        return self._stack("final_frame")


def load_sweep(workdir: str | pathlib.Path) -> Sweep:
    """Read every run below ``workdir`` (its subfolders holding a config.json).

    Raises:
        ValueError: when no subfolder of ``workdir`` is a run's workdir.
    """
    workdir = pathlib.Path(workdir)
    runs = {p.parent.name: load_run(p.parent) for p in sorted(workdir.glob("*/config.json"))}
    if not runs:
        raise ValueError(f"{workdir} has no subfolder holding a config.json; give the "
                         "--workdir of experiments.sweep (or wait for its first point).")
    flats = [dict(_flatten(r.config.to_dict())) for r in runs.values()]
    fields = dict.fromkeys(k for f in flats for k in f)
    varying = [k for k in fields if len({json.dumps(f.get(k)) for f in flats}) > 1]
    return Sweep(workdir=workdir, runs=runs, varying=varying)


def seed_stats(frame: pd.DataFrame, metric: str, by: list[str]) -> pd.DataFrame:
    """Mean, std (ddof = 1), n and standard error (sem) of ``metric`` per group of rows.

    ``by`` are the grouping columns: ``["point", "step"]`` on a metrics table averages seeds.
    """
    grouped = frame.groupby(by, sort=True)[metric]
    out = grouped.agg(mean="mean", std=lambda v: v.std(ddof=1), n="count").reset_index()
    out["sem"] = out["std"] / np.sqrt(out["n"])
    return out


def _points(config: ml_collections.ConfigDict) -> list[dict[str, Any]]:
    from rgrad.members import parse_sweep  # the loop's own parser (its order of points)

    return parse_sweep(config.get("vmap_sweep", ""))


def _number(v: Any) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return v  # a text column stays text


def _flatten(d: dict, prefix: str = ""):
    """Yield ``(dotted.name, value)`` for the leaves of a nested dict."""
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _restore_raw(step_dir: pathlib.Path) -> dict[str, Any]:
    """The pytree saved in an orbax step folder, restored as NumPy arrays without a target."""
    import orbax.checkpoint as ocp
    from absl import logging

    item = step_dir / "default" if (step_dir / "default").is_dir() else step_dir
    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.ERROR)  # orbax warns that the item's step metadata is absent
    try:
        checkpointer = ocp.PyTreeCheckpointer()
        meta = checkpointer.metadata(item)
        tree = getattr(getattr(meta, "item_metadata", meta), "tree", meta)
        # NumPy leaves: no device or sharding is assumed (the run may have used 8 devices).
        args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
        return checkpointer.restore(item, args=ocp.args.PyTreeRestore(restore_args=args))
    finally:
        logging.set_verbosity(verbosity)

