"""The device mesh of a run: a ``members`` axis and a ``data`` axis, set by ``config.mesh``.

The members (seeds x vmapped sweep points, :mod:`rgrad.members`) are sharded over the
``members`` axis; each member's minibatch is sharded over the ``data`` axis, its parameters and
optimizer state replicated there. The compiler then averages the gradient over the ``data``
devices (the loss is a mean over the batch): no collective is written by hand.

    --config.mesh.data=4                 # 4 devices split every batch (members axis: the rest)
    --config.mesh.members=1 --config.mesh.data=1   # one device, whatever is available

A member count that the ``members`` axis does not divide is padded with copies of the last
member (computed, never reported or checkpointed) and the run says so.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXES = ("members", "data")


def make_mesh(config: ml_collections.ConfigDict | None) -> Mesh:
    """The ``(members, data)`` mesh of ``config.mesh`` over the global devices.

    ``mesh.data`` (default 1) devices split each batch; ``mesh.members`` (default 0: all the
    devices left, ``device_count // data``) hold the members.

    Raises:
      ValueError: the axes do not fit the devices, or the batch does not split evenly.
    """
    section = config.get("mesh") if config is not None else None
    data = int(section.get("data", 1)) if section else 1
    members = int(section.get("members", 0)) if section else 0
    devices = jax.devices()
    n = len(devices)
    if data < 1 or n % data:
        raise ValueError(f"config.mesh.data={data} must divide the {n} devices; use one of "
                         f"{[d for d in range(1, n + 1) if n % d == 0]}.")
    members = members or n // data
    if members < 1 or members * data > n:
        raise ValueError(f"config.mesh.members={members} x mesh.data={data} needs "
                         f"{members * data} devices, there are {n}; lower one of them.")
    if jax.process_count() > 1 and members * data != n:
        raise ValueError(f"a multi-process run must use all {n} devices; set mesh.members x "
                         f"mesh.data = {n} (or leave mesh.members=0).")
    batch = config.get("batch_size") if config is not None else None
    if data > 1 and batch and batch % data:
        raise ValueError(f"config.batch_size={batch} does not split over mesh.data={data} "
                         "devices; use a multiple of it.")
    grid = np.array(devices[: members * data]).reshape(members, data)
    return Mesh(grid, AXES)


class Layout:
    """Where a run's stacked member state lives on ``mesh``, and its padding.

    Attributes:
      num_members: the run's members M.
      padded: M rounded up to a multiple of the ``members`` axis.
      sharded: the sharding of the padded state (member axis over ``members``).
      stored: the sharding of the unpadded state (checkpoints, the run's result): ``sharded``
        when there is no padding, else replicated.
      message: a line for the log when members were padded, else None.
    """

    def __init__(self, mesh: Mesh, num_members: int):
        self.mesh, self.num_members = mesh, num_members
        size = mesh.shape["members"]
        self.padded = -(-num_members // size) * size
        self.sharded = NamedSharding(mesh, PartitionSpec("members"))
        self.replicated = NamedSharding(mesh, PartitionSpec())
        self.stored = self.sharded if self.padded == num_members else self.replicated
        self.message = None
        if self.padded != num_members:
            self.message = (
                f"{num_members} members on a members axis of {size} devices: padded to "
                f"{self.padded} with copies of the last member (computed, then discarded). "
                f"Use a multiple of {size} members (num_seeds x sweep points), or "
                "--config.mesh.data / --config.mesh.members to place the devices otherwise.")
        extra = self.padded - num_members

        def pad(ts):
            return jax.tree.map(lambda x: jnp.concatenate([x] + [x[-1:]] * extra), ts)

        self._pad = jax.jit(pad, out_shardings=self.sharded)
        self._unpad = jax.jit(lambda ts: jax.tree.map(lambda x: x[:num_members], ts),
                              out_shardings=self.stored)

    def pad(self, ts: Any) -> Any:
        """Unpadded state (leaves ``[M, ...]``) -> padded, sharded (``[padded, ...]``)."""
        return self._pad(ts)

    def unpad(self, ts: Any) -> Any:
        """Padded state -> the run's members only (``[M, ...]``, laid out as ``stored``)."""
        return ts if self.padded == self.num_members else self._unpad(ts)


def shard_batch(batch: Any, mesh: Mesh) -> Any:
    """Constrain the batch's leaves to be split over ``data`` along their leading axis.

    Leaves without such an axis (scalars, keys, a leading axis that ``data`` does not divide)
    stay as they are. Call inside the jitted step; under the members' vmap the member axis is
    left to the compiler.

    Raises:
      ValueError: no leaf can be split (a task that draws its data inside the loss).
    """
    d = mesh.shape["data"]
    if d == 1:
        return batch

    def splits(x):
        return (isinstance(x, jax.Array) and x.ndim > 0 and x.shape[0] % d == 0
                and not jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key))

    if not any(splits(x) for x in jax.tree.leaves(batch)):
        # e.g. rollouts drawn inside the loss from a key: the data axis would sit idle.
        raise ValueError(f"config.mesh.data={d}: this task's batch holds no array whose "
                         f"leading axis splits over {d} devices (it is "
                         f"{jax.tree.map(lambda x: getattr(x, 'shape', x), batch)}); "
                         "use mesh.data=1.")
    split = NamedSharding(mesh, PartitionSpec("data"))
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, split) if splits(x) else x,
                        batch)


class DataParallel:
    """``task`` whose :meth:`batch` output is split over the mesh's ``data`` axis.

    Every other attribute is the task's own, so the loop's compiled step uses it unchanged.
    """

    def __init__(self, task: Any, mesh: Mesh):
        self._task, self._mesh = task, mesh

    def batch(self, data, state, params, *, key, step):
        batch, state = self._task.batch(data, state, params, key=key, step=step)
        return shard_batch(batch, self._mesh), state

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)


def data_parallel(task: Any, mesh: Mesh) -> Any:
    """``task`` itself on a mesh without a data axis, else :class:`DataParallel` of it."""
    return task if mesh.shape["data"] == 1 else DataParallel(task, mesh)
