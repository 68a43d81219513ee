"""The members of a run: ``config.num_seeds`` seeds times the points of ``config.vmap_sweep``.

A run's members share one compiled program: their per-member state (:class:`TrainState`) is
stacked along a leading member axis ``[M, ...]``, vmapped by the loop and sharded over the
local devices when there are several.
"""

from __future__ import annotations

import ast
import itertools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rgrad.task import Task


class TrainState(NamedTuple):
    """Per-member state. ``key`` is raw key data (uint32) so that it checkpoints plainly.

    Stacked over the members, every leaf gains a leading axis ``[M]``.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    state: Any
    key: jax.Array
    hparams: dict[str, jax.Array]


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
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def members(config: ml_collections.ConfigDict, task: Task) -> list[dict[str, Any]]:
    """One dict per member: ``{"seed": s, "point": p, "hparams": {...}}``, points outermost."""
    defaults = {"lr": float(config.optim.lr), **task.hparams()}
    points = parse_sweep(config.vmap_sweep)
    for p in points:
        unknown = set(p) - set(defaults)
        if unknown:
            raise ValueError(f"config.vmap_sweep names {sorted(unknown)}, which this task does "
                             f"not expose; vmappable hyperparameters: {sorted(defaults)}.")
    return [{"seed": s, "point": i, "hparams": {**defaults, **p}}
            for i, p in enumerate(points) for s in range(config.num_seeds)]


def init_members(task: Task, tx: optax.GradientTransformation,
                 config: ml_collections.ConfigDict, member_list: list[dict[str, Any]]
                 ) -> TrainState:
    """Stacked initial TrainState, one row per member (seed keys by fold_in of the seed index).

    Returns:
      A :class:`TrainState` whose leaves have a leading member axis ``[M]``.
    """
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


def member_slice(tree: Any, i: int) -> Any:
    """Member ``i`` of a stacked pytree (leaves ``[M, ...]`` -> ``[...]``)."""
    return jax.tree.map(lambda x: x[i], tree)
