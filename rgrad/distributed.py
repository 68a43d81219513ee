"""Several processes, one run: ``jax.distributed`` from the environment, host reads, process 0.

The entry points call :func:`initialize` before their first computation. It joins the
processes when the environment says so, with no code edit:

* ``JAX_COORDINATOR_ADDRESS=host:port``, ``JAX_NUM_PROCESSES=N`` and ``JAX_PROCESS_ID=i``
  (all three), e.g. two processes on one machine::

      JAX_COORDINATOR_ADDRESS=localhost:12355 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 \
          python -m experiments.main --config=configs/lqg.py:quick --workdir=runs/mh &
      JAX_COORDINATOR_ADDRESS=localhost:12355 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=1 \
          python -m experiments.main --config=configs/lqg.py:quick --workdir=runs/mh

* a cluster job that ``jax.distributed.initialize()`` recognises by itself with more than one
  task (SLURM: ``srun`` with ``SLURM_NTASKS > 1``; Open MPI's ``mpirun``).

On CPU the processes exchange data through gloo (JAX's default CPU collectives). Every process
runs the same loop on its share of the global arrays; reads of global arrays on the host go
through :func:`host_read` (a gather across processes), and only process 0 writes files
(:func:`is_main`, :class:`QuietWriter` for the others).
"""

from __future__ import annotations

import math
import os
from typing import Any

import jax
import numpy as np

_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def cluster_processes() -> int:
    """Number of tasks of a multi-task cluster job detected in the environment (else 1)."""
    if "SLURM_JOB_ID" in os.environ and "SLURM_STEP_NODELIST" in os.environ:
        return int(os.environ.get("SLURM_NTASKS", "1"))  # inside an srun step
    if "OMPI_COMM_WORLD_SIZE" in os.environ:
        return int(os.environ["OMPI_COMM_WORLD_SIZE"])
    return 1


def initialize() -> bool:
    """Join the run's processes through ``jax.distributed`` when the environment asks for it.

    Call before the first JAX computation. Idempotent.

    Returns:
      Whether this process is one of several.

    Raises:
      ValueError: only some of the three ``JAX_*`` variables are set, or they are malformed.
    """
    if jax.distributed.is_initialized():
        return jax.process_count() > 1
    given = {k: os.environ[k] for k in _ENV if os.environ.get(k)}
    if given and len(given) < len(_ENV):
        missing = ", ".join(k for k in _ENV if k not in given)
        raise ValueError(f"multi-process run: {', '.join(given)} set but not {missing}; set all "
                         "three (or none for a single process).")
    if given:
        try:
            n, i = int(given["JAX_NUM_PROCESSES"]), int(given["JAX_PROCESS_ID"])
        except ValueError:
            raise ValueError("JAX_NUM_PROCESSES and JAX_PROCESS_ID must be integers (got "
                             f"{given['JAX_NUM_PROCESSES']!r}, {given['JAX_PROCESS_ID']!r})."
                             ) from None
        if not 0 <= i < n:
            raise ValueError(f"JAX_PROCESS_ID={i} must be in [0, JAX_NUM_PROCESSES={n}).")
        jax.distributed.initialize(given["JAX_COORDINATOR_ADDRESS"], num_processes=n,
                                   process_id=i)
        return n > 1
    if cluster_processes() > 1:
        jax.distributed.initialize()  # coordinator, count and index from the cluster
        return jax.process_count() > 1
    return False


def is_main() -> bool:
    """Whether this process writes the run's files (process 0)."""
    return jax.process_index() == 0


def host_read(tree: Any) -> Any:
    """Every leaf of ``tree`` as a host numpy array, whole, on every process.

    A global array whose shards live in other processes is gathered (a collective: every
    process must call this at the same point of the loop); others are fetched as they are.
    """
    from jax.experimental import multihost_utils

    def read(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(jax.device_get(x))

    return jax.tree.map(read, tree)


def global_array(tree: Any, sharding: jax.sharding.Sharding) -> Any:
    """Host arrays (the same on every process) as global arrays laid out by ``sharding``."""
    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])

    return jax.tree.map(put, tree)


class QuietWriter:
    """The metric writer of processes other than 0: writes nothing, returns the same summary.

    Any writer method it does not define is a no-op, so that every process can run the same
    loop code.
    """

    def write_final(self, per_member: list[dict[str, float]], member_list) -> dict[str, Any]:
        from rgrad import metrics_io

        def floats(metrics):  # as the writer records them: non-finite values as strings
            return {k: float(v) if math.isfinite(float(v)) else str(float(v))
                    for k, v in metrics.items()}

        return {"members": [{**m, "metrics": floats(r)}
                            for m, r in zip(member_list, per_member, strict=True)],
                "summary": metrics_io.summarize(per_member, member_list)}

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def local_view(tree: Any) -> Any:
    """``tree`` itself in a single-process run; its whole host copy (:func:`host_read`) when
    its arrays span several processes (a collective, as there)."""
    return tree if jax.process_count() == 1 else host_read(tree)
