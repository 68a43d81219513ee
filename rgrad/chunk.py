"""The compiled update: many training steps of every member in one host call."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rgrad.members import TrainState
from rgrad.task import Task


class NonFiniteError(FloatingPointError):
    """The loss or the gradient became NaN/inf; the last good checkpoint is left intact."""


def make_chunk_fn(task: Task, tx: optax.GradientTransformation, base_lr: float | None
                  ) -> tuple[Callable, dict[str, int]]:
    """Build ``chunk(ts, data, num_steps) -> (ts, metric_sums, bad)`` for one member.

    ``base_lr``: the optimizer's learning rate when ``hparams["lr"]`` is swept (the updates
    are rescaled by ``hparams["lr"] / base_lr``); None when it is not (no rescaling).

    The loop inside is a ``while_loop`` with a dynamic trip count, so every chunk length runs
    the same compiled program. ``bad = [step, quantity]`` (int32 ``[2]``) names the first step
    whose loss (quantity 0) or gradient (1) was non-finite, else ``[-1, -1]``; the returned
    state is then not to be saved. ``metric_sums`` are float32 scalars summed over the steps.
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

    The members' axis is vmapped (outputs ``[M, ...]``); ``ts`` is donated (updated in place).
    """
    chunk, traces = make_chunk_fn(task, tx, base_lr)

    def run(ts, data, num_steps):
        if jax.tree.leaves(ts)[0].shape[0] == 1:  # one member: the plain, unbatched program
            out = chunk(jax.tree.map(lambda x: x[0], ts), data, num_steps)
            return jax.tree.map(lambda x: x[None], out)
        return jax.vmap(chunk, in_axes=(0, None, None))(ts, data, num_steps)

    return jax.jit(run, donate_argnums=0), traces


def raise_if_nonfinite(bad: Any, member_list: list[dict[str, Any]],
                       checkpoints: str | pathlib.Path, last_checkpoint: int | None) -> None:
    """Raise :class:`NonFiniteError` naming the first bad step, the quantity, and the way on.

    Steps are numbered as in ``metrics.jsonl`` (``step`` there is the number of completed
    steps): the update that starts after ``s`` completed steps (``Task.loss`` sees ``step=s``)
    is step ``s + 1``.

    Args:
      bad: the chunk's ``bad`` output, int32 ``[M, 2]``.
      member_list: the run's members (to name the culprit).
      checkpoints: the run's checkpoint folder (``WORKDIR/checkpoints``).
      last_checkpoint: the step of its newest checkpoint, None when there is none.
    """
    bad = np.asarray(jax.device_get(bad))
    hit = bad[:, 0] >= 0
    if not hit.any():
        return
    i = int(np.argmin(np.where(hit, bad[:, 0], np.iinfo(np.int32).max)))  # earliest step
    step = int(bad[i, 0]) + 1
    what = "loss" if bad[i, 1] == 0 else "gradient (global norm)"
    who = f" (member {i}: {member_list[i]})" if len(member_list) > 1 else ""
    checkpoints = pathlib.Path(checkpoints)
    workdir = checkpoints.parent
    head = (f"non-finite {what} at step {step}{who} (steps numbered as in metrics.jsonl); "
            "stopped without saving.")
    if last_checkpoint is None:
        raise NonFiniteError(
            f"{head} No checkpoint exists in {checkpoints}: start over with a lower learning "
            "rate or clipping, e.g. the same command with --restart --config.optim.lr=LOWER "
            "(or --config.optim.grad_clip=1.0).")
    raise NonFiniteError(
        f"{head} The last good checkpoint is step {last_checkpoint} "
        f"({checkpoints / str(last_checkpoint)}). To continue from it with a lower learning "
        f"rate or clipping, run the same command with --fork_from={workdir} "
        "--workdir=NEW_WORKDIR --config.optim.lr=LOWER (or --config.optim.grad_clip=1.0).")
