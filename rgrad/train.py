"""The shared training loop: one ``train_and_evaluate(config, workdir, task)`` for every task.

The loop knows nothing about any experiment: it receives a :class:`rgrad.task.Task` and drives
it. One compiled program advances every *member* of the run by a dynamic number of steps: the
members are ``config.num_seeds`` seeds times the points of ``config.vmap_sweep`` (continuous
hyperparameters swept inside one program), vmapped, and laid out on the device mesh of
``config.mesh`` (:mod:`rgrad.mesh`: members over its ``members`` axis, each batch split over
its ``data`` axis). Between chunks the host logs, evaluates (one compiled program per
evaluation, vmapped over the members) and checkpoints. In a run of several processes
(:mod:`rgrad.distributed`) every process runs this loop; only process 0 writes files.

Determinism: every random number derives from ``config.seed`` through ``fold_in`` of the member
index and the step; the key lives in the checkpointed state. A run killed at any point and
rerun with the same command resumes from its last checkpoint and ends with the same numbers.

The pieces live in :mod:`rgrad.members` (seeds x sweep points, sharding), :mod:`rgrad.resume`
(checks before touching a workdir), :mod:`rgrad.chunk` (the compiled update) and
:mod:`rgrad.evaluation`; their public names are re-exported here.
"""

from __future__ import annotations

import contextlib
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from rgrad import config_checks, distributed, evaluation, metrics_io, schedules
from rgrad import workdir as run_dir
from rgrad.chunk import NonFiniteError, compile_chunk, make_chunk_fn, raise_if_nonfinite
from rgrad.member_images import MemberImages
from rgrad.members import (
    TrainState,
    init_members,
    member_slice,
    members,
    parse_sweep,
    shard_members,
)
from rgrad.mesh import Layout, data_parallel, make_mesh
from rgrad.resume import ResumeMismatchError, check_resume_data, data_fingerprint
from rgrad.task import Task

__all__ = ["NonFiniteError", "ResumeMismatchError", "TrainState", "compile_chunk",
           "data_fingerprint", "init_members", "make_chunk_fn", "member_slice", "members",
           "parse_sweep", "shard_members", "train_and_evaluate"]


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
                       task: Task, progress: bool = True) -> dict[str, Any]:
    """Train ``task`` as ``config`` says in ``workdir`` (resuming there), evaluate, return metrics.

    ``config`` is not modified: the run's length is ``rgrad.schedules.total_steps`` (from
    ``num_epochs`` when set), and ``workdir/config.json`` records the config with ``num_steps``
    set to that resolved length.

    Returns:
      A dict with the final evaluation per member and the mean/std over seeds per point (also
      written to ``workdir/final_metrics.json``, the marker of a finished run), the number of
      compilations of the step (``compilations``) and of the evaluations
      (``eval_compilations``), and ``train_state``: the final :class:`TrainState` of all
      members (``member_slice(out["train_state"].params, i)`` gives member i's parameters).
    """
    config_checks.check_config(config)  # before anything is written
    grid = make_mesh(config)  # the (members, data) device mesh; a bad mesh fails here
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    # One process per workdir (process 0 holds it for all hosts), then the run-identity check:
    # both before anything in the workdir is read or written.
    with run_dir.locked(workdir) if distributed.is_main() else contextlib.nullcontext():
        note = run_dir.check_identity(workdir, config)
        return _train_locked(config, workdir, task, progress, grid, note)


def _train_locked(config, workdir, task, progress, grid, note) -> dict[str, Any]:
    from rgrad import checkpoint  # orbax is slow to import; only a run needs it

    data = task.dataset()
    fingerprint = data_fingerprint(data)
    steps_per_epoch = None
    if data is not None:
        n = jax.tree.leaves(data)[0].shape[0]
        steps_per_epoch = n // config.batch_size
        if steps_per_epoch == 0:
            raise ValueError(f"config.batch_size={config.batch_size} exceeds the {n} training "
                             "examples; lower it.")
        data = distributed.global_array(data, Layout(grid, 1).replicated)
    num_steps = schedules.total_steps(config, steps_per_epoch)

    tx = task.optimizer(task.schedule(steps_per_epoch, num_steps))
    member_list = members(config, task)
    lr_swept = any("lr" in p for p in parse_sweep(config.vmap_sweep))
    m = len(member_list)
    layout = Layout(grid, m)  # members padded to the mesh; the host reads only the first m
    run_chunk, traces = compile_chunk(data_parallel(task, grid), tx,
                                      float(config.optim.lr) if lr_swept else None)
    evaluate, final_evaluate = evaluation.member_evaluators(task)
    images = MemberImages(task)  # Task.eval_images at every evaluation (none: never traced)

    ts = init_members(task, tx, config, member_list, sharding=layout.stored)
    ckpt = checkpoint.Checkpointer(workdir / "checkpoints", keep=config.keep_checkpoints)
    check_resume_data(workdir, fingerprint, resuming=ckpt.latest_step() is not None)
    # hparams (a swept lr, tau, ...) come from this config, not the checkpoint: a run forked
    # after a divergence with a lower learning rate must train with it.
    ts = shard_members(ckpt.restore_or(ts)._replace(hparams=ts.hparams), layout)
    start = int(distributed.host_read(ts.step)[0])
    main = distributed.is_main()  # only process 0 writes files
    if main:
        run_dir.write_identity(workdir, config)
        tmp = workdir / "config.json.tmp"  # a rename: a kill never leaves half a config.json
        tmp.write_text(_resolved(config, num_steps).to_json_best_effort(indent=2))
        tmp.replace(workdir / "config.json")
    writer = (metrics_io.MetricWriter(workdir, resume_step=start, progress=progress,
                                      total=num_steps, initial=start, member_list=member_list,
                                      config=_resolved(config, num_steps))
              if main else distributed.QuietWriter())
    if layout.message:
        writer.note(layout.message)
    if note:
        writer.note(note)
    for text in ckpt.notes:  # a damaged checkpoint passed over, or one restored unverified
        writer.note(text)
    if start:
        writer.note(f"resumed from checkpoint at step {start}")

    key_eval = jax.random.fold_in(jax.random.key(config.seed), 2**31 - 1)
    last_eval = None  # (step, metrics) of the latest periodic evaluation
    try:
        step = start
        while step < num_steps:
            stop = min(num_steps, _next_multiple(step, config.log_every))
            t0 = time.perf_counter()
            ts, sums, bad = run_chunk(ts, data, jnp.int32(stop - step))
            raise_if_nonfinite(distributed.host_read(bad)[:m], member_list, ckpt.directory,
                               ckpt.latest_step())
            n_steps = stop - step
            step = stop
            train = {k: v[:m] / n_steps for k, v in distributed.host_read(sums).items()}
            writer.write_train(step, train, member_list, steps_per_sec=n_steps /
                               (time.perf_counter() - t0))
            if step % config.eval_every == 0 or step == num_steps:
                last_eval = (step, evaluate(ts, key_eval, step))
                writer.write_eval(step, last_eval[1][:m], member_list)
                writer.write_images(step, images(ts, key_eval, step)[:m])
            if step % config.checkpoint_every == 0 or step == num_steps:
                writer.flush()  # logs up to this step on disk before the checkpoint names it
                ckpt.save(step, layout.unpad(ts))
        # The same program at the same step and key gives the same numbers: not run twice.
        final = (last_eval[1] if final_evaluate is evaluate and last_eval and
                 last_eval[0] == num_steps else final_evaluate(ts, key_eval, num_steps))[:m]
        ts = layout.unpad(ts)
        params, state = distributed.local_view((ts.params, ts.state)) if config.artifacts else (
            None, None)
        for i in range(m) if config.artifacts and main else []:
            out = workdir / (f"member{i}" if m > 1 else "")
            out.mkdir(exist_ok=True)
            task.artifacts(member_slice(params, i), member_slice(state, i),
                           key=jax.random.fold_in(key_eval, i), workdir=out)
        # final_metrics.json marks the run finished (sweeps skip it): after the artifacts.
        summary = writer.write_final(final, member_list)
    finally:
        ckpt.close()
        writer.close()
    summary["compilations"] = traces["count"]
    summary["eval_compilations"] = {"evaluate": evaluate.traces,
                                    "final_evaluate": final_evaluate.traces}
    summary["train_state"] = ts  # final state of every member (not written to JSON)
    return summary


def _resolved(config: ml_collections.ConfigDict, num_steps: int) -> ml_collections.ConfigDict:
    """A copy of ``config`` with the run's resolved ``num_steps`` (the caller's is untouched)."""
    out = config.copy_and_resolve_references()
    with out.unlocked():
        out.num_steps = num_steps
    return out


def _next_multiple(step: int, every: int) -> int:
    return (step // every + 1) * every
