"""Run one config (a file reference or a ConfigDict) with dotted overrides through the shared loop.

    from experiments import run
    r = run.run("configs/vae.py:quick", {"optim.lr": 3e-4}, workdir="runs/vae_lr")
    r.metrics[0]["test_neg_elbo"], r.params   # final evaluation of member 0, its parameters

The one way every entry point (experiments.main, sweep, figures, bench, tools) trains: the
config is resolved, locked, overridden (a misspelt field fails with a one-line ValueError that
names it), its task is built by :func:`experiments.registry.make_task` and handed to
:func:`rgrad.train.train_and_evaluate`. Rerunning with the same workdir resumes (or, when
finished, only re-evaluates) from the last checkpoint.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import importlib.util
import json
import pathlib
import tempfile
from typing import Any

import ml_collections

from experiments import registry
from rgrad import train
from rgrad import workdir as run_dir
from rgrad.task import Task

ROOT = pathlib.Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Run:
    """A finished run.

    Attributes:
        config: the locked config that was trained (overrides applied).
        task: the task built from it.
        metrics: final evaluation per member, ``[{name: float}]`` (members = seeds x vmap
            sweep points, as the loop orders them).
        params: the first member's parameters (a pytree without the member axis).
        all_params: every member's parameters, leaves ``[M, ...]``.
        workdir: where checkpoints, metrics.jsonl and final_metrics.json are.
        output: the loop's full return value (summary, members, train_state, ...).
    """

    config: ml_collections.ConfigDict
    task: Task
    metrics: list[dict[str, float]]
    params: Any
    all_params: Any
    workdir: pathlib.Path | None
    output: dict[str, Any]


def load_config(config_ref: str) -> ml_collections.ConfigDict:
    """``"configs/vae.py:quick"`` -> that file's ``get_config("quick")`` (not locked).

    A relative path is tried from the working directory, then from the repository root.
    """
    path, _, arg = str(config_ref).partition(":")
    file = pathlib.Path(path)
    if not file.exists() and not file.is_absolute():
        file = ROOT / path
    if not file.exists():
        raise ValueError(f"config {config_ref!r}: no file {path} (give e.g. "
                         "'configs/vae.py:quick').")
    spec = importlib.util.spec_from_file_location(f"_config_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(arg or None)


def apply_overrides(config: ml_collections.ConfigDict, overrides: dict | None) -> None:
    """Set dotted fields (``{"optim.lr": 3e-4}``) of a locked config in place.

    Raises:
        ValueError: one line naming the field, for an unknown field or a value of the wrong
            type (the config stays locked, so a typo cannot add a field).
    """
    for key, value in (overrides or {}).items():
        problem = field_problem(config, key)
        if problem:
            raise ValueError(f"override {key}={value!r}: {problem}")
        *parents, leaf = key.split(".")
        node = config
        for p in parents:
            node = node[p]
        try:
            setattr(node, leaf, value)
        except TypeError as e:
            raise ValueError(f"override {key}={value!r}: {str(e).splitlines()[0]}") from None


def field_problem(config: ml_collections.ConfigDict, key: str) -> str | None:
    """Why the dotted ``key`` names no field of ``config`` (with the closest names), or None."""
    *parents, leaf = key.split(".")
    node, where = config, "config"
    for p in parents + [leaf]:
        if p not in node or (p != leaf and not isinstance(node[p], ml_collections.ConfigDict)):
            kind = "field" if p == leaf else "section"
            close = closest_fields(config, key)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            return (f"{where} has no {kind} {p!r}; {hint}{where}'s fields: "
                    f"{', '.join(sorted(node.keys()))}.")
        node, where = node[p], f"{where}.{p}"
    return None


def closest_fields(config: ml_collections.ConfigDict, key: str, n: int = 3) -> list[str]:
    """Up to ``n`` dotted fields of ``config`` closest to ``key``: the same name in another
    section, an abbreviation (``learning_rate`` -> ``lr``), then difflib's nearest."""
    names = sorted(run_dir.config_fields(config))
    leaf = key.split(".")[-1]
    last = {name: name.split(".")[-1] for name in names}
    initials = lambda s: "".join(w[0] for w in s.split("_") if w)  # noqa: E731
    found = [m for m in names if last[m] == leaf]
    found += [m for m in names if len(last[m]) > 1 and initials(leaf) == last[m]
              or len(leaf) > 1 and initials(last[m]) == leaf]
    found += difflib.get_close_matches(key, names, n=n, cutoff=0.6)
    by_leaf = difflib.get_close_matches(leaf, sorted(set(last.values())), n=n, cutoff=0.6)
    found += [m for b in by_leaf for m in names if last[m] == b]
    return list(dict.fromkeys(found))[:n]


def resolve(config_ref: str | ml_collections.ConfigDict,
            overrides: dict | None = None) -> ml_collections.ConfigDict:
    """The locked config of ``config_ref`` (a file reference, or a ConfigDict, copied)."""
    if isinstance(config_ref, ml_collections.ConfigDict):
        config = copy.deepcopy(config_ref)
    else:
        config = load_config(config_ref)
    config.lock()
    apply_overrides(config, overrides)
    return config


def saved_overrides(base: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> dict:
    """The dotted fields where a run's saved ``workdir/config.json`` differs from ``base``.

    ``run(base, saved_overrides(base, workdir), workdir)`` is then that run's own config: on a
    finished run the loop restores the last checkpoint and only re-evaluates.
    """
    path = pathlib.Path(workdir) / "config.json"
    if not path.exists():
        raise ValueError(f"{workdir} holds no config.json (not a run's workdir).")

    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}", v

    want = json.loads(base.to_json_best_effort())
    have = dict(flat(want))
    return {k: v for k, v in flat(json.loads(path.read_text())) if have.get(k, v) != v}


def run(config_ref: str | ml_collections.ConfigDict, overrides: dict | None = None,
        workdir: str | pathlib.Path | None = None, progress: bool = False,
        task: Task | None = None, restart: bool = False,
        fork_from: str | pathlib.Path | None = None) -> Run:
    """Train ``config_ref`` with ``overrides`` in ``workdir`` (resuming there) and evaluate.

    Args:
        config_ref: ``"configs/NAME.py[:variant]"`` or a ConfigDict (copied, not changed).
        overrides: dotted field -> value, applied to the locked config.
        workdir: the run's folder; None trains in a temporary folder, deleted afterwards
            (``Run.workdir`` is then None).
        progress: show the loop's progress bar.
        task: an already built task of this config (default: ``registry.make_task``).
        restart: first delete every entry of ``workdir`` (a run's workdir only; see
            :func:`rgrad.workdir.restart`): the way to start over after a refused resume.
        fork_from: a run's workdir whose latest checkpoint (its full training state) this
            run continues from in ``workdir`` (absent or empty) under this config; see
            :func:`rgrad.workdir.fork`.

    Returns:
        The :class:`Run`.
    """
    config = resolve(config_ref, overrides)
    task = task if task is not None else registry.make_task(config)
    if workdir is None:
        with tempfile.TemporaryDirectory() as d:
            return dataclasses.replace(_train(config, task, d, progress, False, fork_from),
                                       workdir=None)
    return _train(config, task, workdir, progress, restart, fork_from)


def _train(config, task, workdir, progress, restart=False, fork_from=None) -> Run:
    if not (restart or fork_from):
        out = train.train_and_evaluate(config, workdir, task, progress=progress)
    else:
        with run_dir.locked(workdir):  # the loop takes it again (re-entrant)
            if restart:
                gone = run_dir.restart(workdir)
                print(f"[rgrad] --restart: deleted {', '.join(gone) or 'nothing'} in {workdir}")
            if fork_from:
                if not pathlib.Path(fork_from, "checkpoints").is_dir():
                    raise ValueError(f"--fork_from={fork_from}: not a run's workdir (no "
                                     "checkpoints/ in it).")
                with run_dir.locked(fork_from):
                    print(f"[rgrad] {run_dir.fork(fork_from, workdir, config)}")
                forked = run_dir.latest_checkpoint(pathlib.Path(workdir))
            try:
                out = train.train_and_evaluate(config, workdir, task, progress=progress)
            except ValueError as e:
                if not fork_from or isinstance(e, train.ResumeMismatchError) or \
                        run_dir.latest_checkpoint(pathlib.Path(workdir)) != forked:
                    raise
                run_dir.restart(workdir)  # the copied state does not fit: undo the fork
                raise ValueError(f"--fork_from={fork_from}: its checkpoint at step {forked} "
                                 "does not fit this config's training state (a fork keeps the "
                                 f"model, optimizer chain, seeds and sweep); {workdir} was "
                                 f"emptied. ({str(e).splitlines()[0]})") from None
    params = out["train_state"].params
    return Run(config=config, task=task, metrics=[m["metrics"] for m in out["members"]],
               params=train.member_slice(params, 0), all_params=params,
               workdir=pathlib.Path(workdir), output=out)
