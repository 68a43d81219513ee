"""The shared training loop: one ``train_and_evaluate(config, workdir)`` for every experiment.

The loop knows nothing about any experiment: it receives a :class:`rgrad.task.Task` and drives
it. One compiled program advances every *member* of the run by a dynamic number of steps: the
members are ``config.num_seeds`` seeds times the points of ``config.vmap_sweep`` (continuous
hyperparameters swept inside one program), vmapped, and sharded over devices when there are
several. Between chunks the host logs, evaluates and checkpoints.

Determinism: every random number derives from ``config.seed`` through ``fold_in`` of the member
index and the step; the key lives in the checkpointed state. A run killed at any point and
rerun with the same command resumes from its last checkpoint and ends with the same numbers.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import pathlib
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rgrad import metrics_io
from rgrad.task import Task


class NonFiniteError(FloatingPointError):
    """The loss or the gradient became NaN/inf; the last good checkpoint is left intact."""


class ResumeMismatchError(ValueError):
    """A workdir's checkpoints were trained on other data than this process loaded."""


def data_fingerprint(data) -> dict[str, Any] | None:
    """Shapes, dtypes and a BLAKE2 digest of the training data (``task.dataset()``), or None."""
    if data is None:
        return None
    h = hashlib.blake2b(digest_size=16)
    leaves = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(data):
        a = np.ascontiguousarray(np.asarray(leaf))
        h.update(jax.tree_util.keystr(path).encode() + f" {a.dtype} {a.shape}".encode())
        h.update(a.data)
        leaves.append({"path": jax.tree_util.keystr(path), "shape": list(a.shape),
                       "dtype": str(a.dtype)})
    return {"digest": h.hexdigest(), "leaves": leaves}


def _check_resume_data(workdir: pathlib.Path, fingerprint, resuming: bool) -> None:
    """Refuse to resume checkpoints on data other than they were trained on.

    The fingerprint is written to ``data.json`` at a run's start. On resume a different
    fingerprint (e.g. the data dir was not found and the task fell back to other data, or
    ``data.max_train`` changed) raises before anything in the workdir is touched.
    """
    path = workdir / "data.json"
    if fingerprint is None:
        return
    if not (resuming and path.exists()):  # a new run (or one from before data.json existed)
        metrics_io.write_json_atomic(path, fingerprint)
        return
    old = json.loads(path.read_text())
    if old["digest"] != fingerprint["digest"]:
        shapes = lambda f: ", ".join(f"{x['path']} {x['shape']}" for x in f["leaves"])  # noqa: E731
        raise ResumeMismatchError(
            f"{workdir} holds checkpoints trained on other data ({shapes(old)}, digest "
            f"{old['digest'][:12]}) than this process loaded ({shapes(fingerprint)}, digest "
            f"{fingerprint['digest'][:12]}); nothing was changed. Point the data setting "
            "(RGRAD_DATA_DIR or --config.data.data_dir) at the data the run started with, "
            "or use a new --workdir.")


class TrainState(NamedTuple):
    """Per-member state. ``key`` is raw key data (uint32) so that it checkpoints plainly."""

    step: jax.Array
    params: Any
    opt_state: Any
    state: Any
    key: jax.Array
    hparams: dict[str, jax.Array]


# ============================================================================================
# Configuration helpers.
# ============================================================================================
def parse_sweep(spec: str) -> list[dict[str, Any]]:
    """Parse ``"a=1,2;b=x,y"`` into the grid ``[{a:1,b:'x'}, {a:1,b:'y'}, ...]``.

    Values are parsed as Python literals where possible (numbers, booleans), else strings.
    """
    if not spec:
        return [{}]
    axes = []
    for part in spec.split(";"):
        if "=" not in part:
            raise ValueError(f"sweep axis {part!r} must look like name=v1,v2 (axes split by ';').")
        name, values = part.split("=", 1)
        axes.append([(name.strip(), _literal(v.strip())) for v in values.split(",")])
    return [dict(point) for point in itertools.product(*axes)]


def _literal(text: str) -> Any:
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def lr_schedule(config: ml_collections.ConfigDict, steps_per_epoch: int | None) -> optax.Schedule:
    """Learning-rate schedule from ``config.optim`` (constant, cosine, warmup_cosine, iwae).

    ``iwae`` is Burda et al. (2016): stages i = 0..7 of 3^i epochs at lr 1e-3 * 10^(-i/7).
    """
    o, total = config.optim, config.num_steps
    if o.schedule == "constant":
        return optax.constant_schedule(o.lr)
    if o.schedule == "cosine":
        return optax.cosine_decay_schedule(o.lr, max(total, 1))
    if o.schedule == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(0.0, o.lr, o.warmup_steps, max(total, 1))
    if o.schedule == "iwae":
        if not steps_per_epoch:
            raise ValueError("optim.schedule='iwae' needs a dataset (epochs); use 'constant'.")
        bounds = np.cumsum([3**i * steps_per_epoch for i in range(8)])[:-1]
        return optax.piecewise_constant_schedule(
            o.lr, {int(b): 10 ** (-1 / 7) for b in bounds})
    raise ValueError(f"config.optim.schedule={o.schedule!r} is unknown; use constant, cosine, "
                     "warmup_cosine or iwae.")


# ============================================================================================
# The compiled update.
# ============================================================================================
def make_chunk_fn(task: Task, tx: optax.GradientTransformation, base_lr: float | None
                  ) -> tuple[Callable, dict[str, int]]:
    """Build ``chunk(ts, data, num_steps) -> (ts, metric_sums, bad)`` for one member.

    ``base_lr``: the optimizer's learning rate when ``hparams["lr"]`` is swept (the updates
    are rescaled by ``hparams["lr"] / base_lr``); None when it is not (no rescaling).

    The loop inside is a ``while_loop`` with a dynamic trip count, so every chunk length runs
    the same compiled program. ``bad = [step, quantity]`` names the first step whose loss
    (quantity 0) or gradient (1) was non-finite, else ``[-1, -1]``; the returned state is then
    not to be saved.
    """
    traces = {"count": 0}

    def step_fn(ts: TrainState, data):
        key = jax.random.wrap_key_data(ts.key)
        loop_key, data_key = jax.random.split(key)
        batch, state = task.batch(data, ts.state, ts.params, key=data_key, step=ts.step)
        grad_fn = jax.value_and_grad(task.loss, has_aux=True)
        (loss, (metrics, state)), grads = grad_fn(
            ts.params, state, batch, key=jax.random.fold_in(loop_key, ts.step), step=ts.step,
            hparams=ts.hparams)
        updates, opt_state = tx.update(grads, ts.opt_state, ts.params)
        if base_lr is not None:
            # Every optimizer here is linear in its learning rate at the last stage, so a
            # swept learning rate is a rescaling of the updates.
            ratio = ts.hparams["lr"] / base_lr
            updates = jax.tree.map(lambda u: (u * ratio).astype(u.dtype), updates)
        params = optax.apply_updates(ts.params, updates)
        grad_norm = optax.global_norm(grads)
        metrics = {"loss": loss, "grad_norm": grad_norm, **metrics}
        new = TrainState(ts.step + 1, params, opt_state, state, ts.key, ts.hparams)
        return new, metrics, jnp.isfinite(loss), jnp.isfinite(grad_norm)

    def chunk(ts: TrainState, data, num_steps):
        traces["count"] += 1  # counts traces, i.e. compilations: a test asserts it stays 1
        _, m_shape, _, _ = jax.eval_shape(step_fn, ts, data)
        sums = jax.tree.map(lambda s: jnp.zeros(s.shape, jnp.float32), m_shape)

        # The trip count depends only on the unbatched counter ``i``, so under the members'
        # vmap the loop stays a plain loop: a predicate that depended on per-member values
        # would make vmap select between old and new carry (params and optimizer state)
        # at every step. A member whose loss or gradient turns non-finite records the first
        # such step in ``bad``; the host then raises without saving, so the (garbage) state
        # after that step is never checkpointed.
        def body(carry):
            i, ts, sums, bad = carry
            new, metrics, loss_ok, grad_ok = step_fn(ts, data)
            ok = loss_ok & grad_ok
            sums = jax.tree.map(lambda s, m: s + jnp.where(ok, m, 0.0), sums, metrics)
            first = (bad[0] < 0) & ~ok
            bad = jnp.where(first, jnp.stack([ts.step, jnp.where(loss_ok, 1, 0)]), bad)
            return i + 1, new, sums, bad

        carry = (jnp.zeros((), jnp.int32), ts, sums, jnp.full((2,), -1, jnp.int32))
        _, ts, sums, bad = jax.lax.while_loop(lambda c: c[0] < num_steps, body, carry)
        return ts, sums, bad

    return chunk, traces


def compile_chunk(task: Task, tx: optax.GradientTransformation, base_lr: float | None
                  ) -> tuple[Callable, dict[str, int]]:
    """``run(ts, data, num_steps) -> (ts, metric_sums, bad)`` over all members, jitted.

    The members' axis is vmapped; ``ts`` is donated (updated in place).
    """
    chunk, traces = make_chunk_fn(task, tx, base_lr)

    def run(ts, data, num_steps):
        if jax.tree.leaves(ts)[0].shape[0] == 1:  # one member: the plain, unbatched program
            out = chunk(jax.tree.map(lambda x: x[0], ts), data, num_steps)
            return jax.tree.map(lambda x: x[None], out)
        return jax.vmap(chunk, in_axes=(0, None, None))(ts, data, num_steps)

    return jax.jit(run, donate_argnums=0), traces


# ============================================================================================
# Members: seeds x vmapped hyperparameter points.
# ============================================================================================
def members(config: ml_collections.ConfigDict, task: Task) -> list[dict[str, Any]]:
    """One dict per member: ``{"seed": i, "hparams": {...}}`` in a fixed order."""
    defaults = {"lr": float(config.optim.lr), **task.hparams()}
    points = parse_sweep(config.vmap_sweep)
    for p in points:
        unknown = set(p) - set(defaults)
        if unknown:
            raise ValueError(f"config.vmap_sweep names {sorted(unknown)}, which this task does "
                             f"not expose; vmappable hyperparameters: {sorted(defaults)}.")
    return [{"seed": s, "point": i, "hparams": {**defaults, **p}}
            for i, p in enumerate(points) for s in range(config.num_seeds)]


def init_members(task: Task, tx, config, member_list) -> TrainState:
    """Stacked initial TrainState, one row per member (seed keys by fold_in of the seed index)."""
    root = jax.random.key(config.seed)

    def one(seed, hp):
        key = jax.random.fold_in(root, seed)
        init_key, run_key = jax.random.split(key)
        params, state = task.init(init_key)
        return TrainState(jnp.zeros((), jnp.int32), params, tx.init(params), state,
                          jax.random.key_data(run_key), hp)

    seeds = jnp.array([m["seed"] for m in member_list])
    hps = {k: jnp.array([m["hparams"][k] for m in member_list], jnp.float32)
           for k in member_list[0]["hparams"]}
    return jax.jit(jax.vmap(one))(seeds, hps)


def shard_members(ts: TrainState) -> TrainState:
    """Shard the member axis over the local devices when it divides evenly."""
    devices = jax.devices()
    m = jax.tree.leaves(ts)[0].shape[0]
    if len(devices) == 1 or m % len(devices):
        return ts
    mesh = Mesh(np.array(devices), ("members",))
    return jax.device_put(ts, NamedSharding(mesh, PartitionSpec("members")))


def member_slice(tree, i: int):
    return jax.tree.map(lambda x: x[i], tree)


# ============================================================================================
# The loop.
# ============================================================================================
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
                       task: Task | None = None, progress: bool = True) -> dict[str, Any]:
    """Train ``config``'s experiment in ``workdir`` (resuming there), evaluate, return metrics.

    Returns a dict with the final evaluation per member and the mean/std over seeds per point
    (also written to ``workdir/final_metrics.json``, the marker of a finished run), the number
    of compilations of the step, and ``train_state``: the final :class:`TrainState` of all
    members (``member_slice(out["train_state"].params, i)`` gives member i's parameters).
    """
    from rgrad import checkpoint

    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if task is None:
        from experiments import registry
        task = registry.make_task(config)
    _check_intervals(config)

    data = task.dataset()
    fingerprint = data_fingerprint(data)
    steps_per_epoch = None
    if data is not None:
        n = jax.tree.leaves(data)[0].shape[0]
        steps_per_epoch = n // config.batch_size
        if steps_per_epoch == 0:
            raise ValueError(f"config.batch_size={config.batch_size} exceeds the {n} training "
                             "examples; lower it.")
        data = jax.device_put(data)
    if config.get("num_epochs", 0):
        if steps_per_epoch is None:
            raise ValueError("config.num_epochs needs a dataset; set num_steps instead.")
        with config.unlocked():
            config.num_steps = int(config.num_epochs * steps_per_epoch)

    tx = task.optimizer(lr_schedule(config, steps_per_epoch))
    member_list = members(config, task)
    lr_swept = any("lr" in p for p in parse_sweep(config.vmap_sweep))
    run_chunk, traces = compile_chunk(task, tx, float(config.optim.lr) if lr_swept else None)

    ts = init_members(task, tx, config, member_list)
    ckpt = checkpoint.Checkpointer(workdir / "checkpoints", keep=config.keep_checkpoints)
    _check_resume_data(workdir, fingerprint, resuming=ckpt.latest_step() is not None)
    ts = shard_members(ckpt.restore_or(ts))
    start = int(jax.device_get(ts.step[0]))
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
    writer = metrics_io.MetricWriter(workdir, resume_step=start, progress=progress,
                                     total=config.num_steps, initial=start)
    if start:
        writer.note(f"resumed from checkpoint at step {start}")

    key_eval = jax.random.fold_in(jax.random.key(config.seed), 2**31 - 1)
    try:
        step = start
        while step < config.num_steps:
            stop = min(config.num_steps, _next_multiple(step, config.log_every))
            t0 = time.perf_counter()
            ts, sums, bad = run_chunk(ts, data, jnp.int32(stop - step))
            bad = np.asarray(jax.device_get(bad))
            if (bad[:, 0] >= 0).any():
                i = int(np.argmax(bad[:, 0] >= 0))
                what = "loss" if bad[i, 1] == 0 else "gradient (global norm)"
                raise NonFiniteError(
                    f"non-finite {what} at step {int(bad[i, 0])} (member {i}: "
                    f"{member_list[i]}); stopped without saving, the last good checkpoint in "
                    f"{ckpt.directory} is intact. Lower the learning rate or clip gradients "
                    "(--config.optim.grad_clip=1.0).")
            n_steps = stop - step
            step = stop
            train = {k: np.asarray(v) / n_steps for k, v in jax.device_get(sums).items()}
            writer.write_train(step, train, member_list, steps_per_sec=n_steps /
                               (time.perf_counter() - t0))
            if step % config.eval_every == 0 or step == config.num_steps:
                writer.write_eval(step, _evaluate(task, ts, member_list, key_eval, step),
                                  member_list)
            if step % config.checkpoint_every == 0 or step == config.num_steps:
                ckpt.save(step, ts)
        final = _evaluate(task, ts, member_list, key_eval, config.num_steps, final=True)
        summary = writer.write_final(final, member_list)
        for i in range(len(member_list)) if config.artifacts else []:
            out = workdir / (f"member{i}" if len(member_list) > 1 else "")
            out.mkdir(exist_ok=True)
            task.artifacts(member_slice(ts.params, i), member_slice(ts.state, i),
                           key=jax.random.fold_in(key_eval, i), workdir=out)
    finally:
        ckpt.close()
        writer.close()
    summary["compilations"] = traces["count"]
    summary["train_state"] = ts  # final state of every member (not written to JSON)
    return summary


def _evaluate(task, ts, member_list, key, step, final=False):
    out = []
    for i in range(len(member_list)):
        k = jax.random.fold_in(jax.random.fold_in(key, step), i)
        params, state = member_slice(ts.params, i), member_slice(ts.state, i)
        evaluate = task.final_evaluate if final else task.evaluate
        out.append(evaluate(params, state, key=k))
    return out


def _next_multiple(step: int, every: int) -> int:
    return (step // every + 1) * every


def _check_intervals(config):
    for name in ("eval_every", "checkpoint_every"):
        if config[name] % config.log_every:
            raise ValueError(f"config.{name}={config[name]} must be a multiple of "
                             f"config.log_every={config.log_every} (metrics are averaged over "
                             "log windows, which a resume must not split).")
    if config.num_seeds < 1:
        raise ValueError(f"config.num_seeds must be >= 1, got {config.num_seeds}.")
