"""The members of a run: ``config.num_seeds`` seeds times the points of ``config.vmap_sweep``.

A run's members share one compiled program: their per-member state (:class:`TrainState`) is
stacked along a leading member axis ``[M, ...]``, vmapped by the loop and laid out on a device
mesh (:mod:`rgrad.mesh`): sharded over its ``members`` axis (padded to a multiple of it), each
member's batch sharded over its ``data`` axis.
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

from rgrad.mesh import Layout, make_mesh
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
                 config: ml_collections.ConfigDict, member_list: list[dict[str, Any]],
                 sharding: jax.sharding.Sharding | None = None) -> TrainState:
    """Stacked initial TrainState, one row per member (seed keys by fold_in of the seed index).

    Args:
      sharding: where the result lives (e.g. :attr:`Layout.stored`); None: the default device.

    Returns:
      A :class:`TrainState` whose leaves have a leading member axis ``[M]``.
    """
    def one(seed, hp):
        key = jax.random.fold_in(jax.random.key(config.seed), seed)
        init_key, run_key = jax.random.split(key)
        params, state = task.init(init_key)
        return TrainState(jnp.zeros((), jnp.int32), params, tx.init(params), state,
                          jax.random.key_data(run_key), hp)

    seeds = np.array([m["seed"] for m in member_list], np.int32)
    hps = {k: np.array([m["hparams"][k] for m in member_list], np.float32)
           for k in member_list[0]["hparams"]}
    # The member table enters as constants, so that every process of a multi-process run
    # builds the same global array without feeding it host inputs.
    init = lambda: jax.vmap(one)(seeds, hps)
    return (jax.jit(init) if sharding is None else jax.jit(init, out_shardings=sharding))()


def shard_members(ts: TrainState, layout: Layout | None = None) -> TrainState:
    """``ts`` padded to ``layout``'s member count and sharded over its ``members`` axis.

    Args:
      ts: the stacked state, leaves ``[M, ...]``.
      layout: default: all devices on the members axis (``Layout(make_mesh(None), M)``).
    """
    layout = layout or Layout(make_mesh(None), jax.tree.leaves(ts)[0].shape[0])
    return layout.pad(ts)


def member_slice(tree: Any, i: int) -> Any:
    """Member ``i`` of a stacked pytree (leaves ``[M, ...]`` -> ``[...]``)."""
    return jax.tree.map(lambda x: x[i], tree)
