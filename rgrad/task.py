"""The task contract: what an experiment gives the shared training loop.

An experiment module defines one subclass of :class:`Task` and a ``make_task(config)`` factory.
The loop (:mod:`rgrad.train`) builds the optimizer, the jitted multi-step update, seeds,
sharding, checkpoints, metrics and the progress bar; it never asks which experiment it runs.

Everything the loop jits (``init``, ``batch``, ``loss``, ``evaluate``, ``final_evaluate``) must
be pure JAX functions of their arguments: the loop compiles each once per run and vmaps it over
the members (seeds x sweep points). Only ``artifacts`` (images, tables) runs on the host.
A task that compares gradient estimators picks its :class:`rgrad.estimators.Estimator` once,
in its constructor (``rgrad.estimators.from_config``), and never branches on its name.

Pytrees the loop carries per seed:

* ``params`` -- what the optimizer updates.
* ``state``  -- anything else the task carries between steps (a moving-average baseline, a
  replay buffer, environment states, target networks). Checkpointed with the params. Use
  ``{}`` when there is none.
"""

from __future__ import annotations

import abc
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from rgrad import schedules, shuffle

Params = Any
State = Any
Batch = Any
Metrics = dict[str, jax.Array]


class Task(abc.ABC):
    """An experiment, as seen by :func:`rgrad.train.train_and_evaluate`."""

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config

    # ----------------------------------------------------------------------------------------
    # Jitted by the loop.
    # ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def init(self, key: jax.Array) -> tuple[Params, State]:
        """Initial parameters and task state for one seed."""

    @abc.abstractmethod
    def loss(self, params: Params, state: State, batch: Batch, *, key: jax.Array,
             step: jax.Array, hparams: dict[str, jax.Array]
             ) -> tuple[jax.Array, tuple[Metrics, State]]:
        """Scalar loss to minimise; its ``jax.grad`` is the gradient estimator of the task.

        Args:
          params: the optimised pytree.
          state: the task's non-optimised state.
          batch: what :meth:`batch` returned.
          key: a fresh key for this step (never reused).
          step: the global step, a scalar int32 array (for temperature schedules etc.).
          hparams: the continuous knobs of :meth:`hparams`, as scalar arrays, so that a sweep
            can vmap over them inside one compiled program.

        Returns:
          ``(loss, (metrics, new_state))`` with scalar metrics.
        """

    def dataset(self) -> Any:
        """Training data as a pytree of host arrays with a leading example axis, or None.

        Moved to the device once and passed (un-batched) to :meth:`batch`.
        """
        return None

    def batch(self, data: Any, state: State, params: Params, *, key: jax.Array,
              step: jax.Array) -> tuple[Batch, State]:
        """The minibatch of this step. Default: ``config.batch_size`` rows of ``data``.

        Args:
          key: the run's data key, the same at every step: fold in ``step`` (or the epoch) for
            fresh randomness, so that a resumed run draws exactly the same batches.

        Rows are drawn by a fresh permutation per epoch (the last partial batch is dropped).
        Override to generate data (synthetic problems) or to interact with an environment.
        """
        del params
        leaves = jax.tree.leaves(data)
        if not leaves:
            raise ValueError("Task.batch: dataset() returned no arrays; override batch().")
        n = leaves[0].shape[0]
        bs = self.config.batch_size
        steps_per_epoch = n // bs
        epoch, i = jnp.divmod(step, steps_per_epoch)
        idx = shuffle.permute(jax.random.fold_in(key, epoch), i * bs + jnp.arange(bs), n)
        return jax.tree.map(lambda x: x[idx], data), state

    def hparams(self) -> dict[str, float]:
        """Continuous hyperparameters the loss reads (name -> default from the config).

        A sweep over these runs inside one compiled program (vmapped like seeds).
        """
        return {}

    def schedule(self, steps_per_epoch: int | None, num_steps: int) -> optax.Schedule:
        """The learning-rate schedule; default: ``config.optim.schedule`` (constant, cosine,
        warmup_cosine). Override for an experiment's own schedule."""
        del steps_per_epoch
        return schedules.lr_schedule(self.config.optim, num_steps)

    def optimizer(self, schedule: optax.Schedule) -> optax.GradientTransformation:
        """The optimizer; default: ``config.optim`` (adam/adamw/sgd, optional clipping).

        The clipping slot is always chained in front (a no-op when ``optim.grad_clip`` is 0),
        so the optimizer state has one tree with or without clipping: a diverged run can be
        continued from its checkpoint with clipping added (:mod:`rgrad.clipping`).
        """
        from rgrad import clipping

        o = self.config.optim
        makers = {"adam": lambda: optax.adam(schedule, b1=o.b1, b2=o.b2, eps=o.eps),
                  "adamw": lambda: optax.adamw(schedule, b1=o.b1, b2=o.b2, eps=o.eps,
                                               weight_decay=o.weight_decay),
                  "sgd": lambda: optax.sgd(schedule, momentum=o.momentum or None)}
        if o.name not in makers:
            raise ValueError(f"config.optim.name={o.name!r} is unknown; use one of "
                             f"{sorted(makers)}.")
        return optax.chain(clipping.global_norm_clip(o.grad_clip), makers[o.name]())

    # ----------------------------------------------------------------------------------------
    # Evaluation: jitted once per run and vmapped over the members (rgrad.evaluation).
    # ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def evaluate(self, params: Params, state: State, *, key: jax.Array) -> Metrics:
        """Evaluation metrics of one member: a pure JAX function returning scalar arrays.

        The loop jits it once and vmaps it over the members; do not jit inside it or convert
        to host floats. Reference values that need the host (a scikit-learn or lifelines fit)
        are computed once in the constructor and enter as constants.
        """

    def final_evaluate(self, params: Params, state: State, *, key: jax.Array) -> Metrics:
        """The end-of-run report (e.g. a tighter bound with more samples); default: evaluate.

        Pure, like :meth:`evaluate`.
        """
        return self.evaluate(params, state, key=key)

    def eval_images(self, params: Params, state: State, *, key: jax.Array
                    ) -> dict[str, jax.Array]:
        """Images of one member, logged as grids at every evaluation (TensorBoard, wandb).

        Pure, like :meth:`evaluate`: the loop jits it once and vmaps it over the members.

        Returns:
          name -> images ``[N, H, W]`` or ``[N, H, W, C]`` (C = 1 or 3) with values in [0, 1],
          e.g. ``{"samples": ..., "reconstructions": ...}``; default: none.
        """
        del params, state, key
        return {}

    # ----------------------------------------------------------------------------------------
    # Host side.
    # ----------------------------------------------------------------------------------------
    def artifacts(self, params: Params, state: State, *, key: jax.Array,
                  workdir: pathlib.Path) -> list[pathlib.Path]:
        """Write images or tables for one seed into ``workdir``; return their paths."""
        del params, state, key, workdir
        return []
