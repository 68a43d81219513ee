"""Hand a sweep's points to a cluster through submitit: one job per point, as a job array.

    python -m experiments.sweep --config=configs/vae.py:quick --workdir=runs/vae_estimators \
        --launcher=slurm --slurm_partition=gpu --slurm_time=60 --slurm_gpus=1

The sweep (:mod:`experiments.sweep`) keeps its bookkeeping: it checks every point first, skips
the finished ones, submits the others (:meth:`Launcher.train`), waits for them and writes the
results table from their ``final_metrics.json``. A job trains one point exactly as a local
sweep would (:func:`train_point`), so a point whose job was cancelled or timed out resumes from
its checkpoints when the sweep is run again. Job logs go to ``WORKDIR/jobs/``.

``--launcher=submitit_local`` runs the same jobs as local processes through submitit's local
executor (all at once): the way to try a launch before a cluster sees it (the tests use it).
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import Any

import ml_collections

CLUSTERS = {"slurm": "slurm", "submitit_local": "local"}


def train_point(config: ml_collections.ConfigDict, workdir: str, restart: bool) -> dict:
    """A job's work: train one sweep point in ``workdir`` (resuming there).

    Returns:
      The point's ``final_metrics.json``, or ``{"failed": message}`` when it diverged (the
      sweep reports the point as failed and goes on, as it does locally).
    """
    from experiments import run
    from rgrad import distributed, train

    if distributed.initialize() and restart:  # several tasks (--slurm_tasks): one multi-host run
        from jax.experimental import multihost_utils

        from rgrad import workdir as run_dir

        if distributed.is_main():  # process 0 empties the stale point, the others wait
            with run_dir.locked(workdir):
                run_dir.restart(workdir)
        multihost_utils.sync_global_devices("rgrad sweep point restarted")
        restart = False
    try:
        run.run(config, workdir=workdir, restart=restart)
    except train.NonFiniteError as e:
        return {"failed": str(e)}
    return json.loads((pathlib.Path(workdir) / "final_metrics.json").read_text())


class Launcher:
    """Submits sweep points as submitit jobs and waits for them.

    Args:
      cluster: "slurm", or "submitit_local" (local processes, for trying a launch).
      folder: where submitit writes the jobs' pickles and logs.
      partition: SLURM partition ("" for the cluster's default).
      time_min: each job's time limit in minutes.
      gpus: GPUs per job.
      cpus: CPUs per job.
      tasks: processes per job (more than 1: a multi-host run, see :mod:`rgrad.distributed`).
      parallel: at most this many jobs of the array run at once (0: no limit).
    """

    def __init__(self, cluster: str, folder: str | pathlib.Path, *, partition: str = "",
                 time_min: int = 60, gpus: int = 0, cpus: int = 4, tasks: int = 1,
                 parallel: int = 0):
        if cluster not in CLUSTERS:
            raise ValueError(f"launcher {cluster!r} is unknown; use local, "
                             f"{', '.join(CLUSTERS)}.")
        for name, value, low in (("time", time_min, 1), ("gpus", gpus, 0), ("cpus", cpus, 1),
                                 ("tasks", tasks, 1), ("parallel", parallel, 0)):
            if value < low:
                raise ValueError(f"--slurm_{name}={value} must be at least {low}.")
        import submitit  # the cluster extra: pip install -e '.[cluster]'

        try:
            self.executor = submitit.AutoExecutor(folder=str(folder), cluster=CLUSTERS[cluster])
        except RuntimeError as e:  # submitit's "Could not detect srun"
            raise ValueError(f"--launcher={cluster}: {e} Run the sweep where SLURM's commands "
                             "are (a login node), or try it here with "
                             "--launcher=submitit_local.") from None
        params: dict[str, Any] = {"timeout_min": time_min, "gpus_per_node": gpus,
                                  "cpus_per_task": cpus, "tasks_per_node": tasks,
                                  "name": "rgrad_sweep"}
        if partition:
            params["slurm_partition"] = partition
        if parallel:
            params["slurm_array_parallelism"] = parallel
        self.executor.update_parameters(**params)

    def train(self, points: list[tuple[ml_collections.ConfigDict, pathlib.Path, bool]]
              ) -> dict[pathlib.Path, Callable[[], dict]]:
        """Submit ``(config, workdir, restart)`` points as one job array and wait for it.

        Returns:
          ``workdir -> outcome()``: the point's final metrics (``{"failed": ...}`` if it
          diverged); raises RuntimeError naming the job's log for a job that crashed.
        """
        if not points:
            return {}
        configs, folders, restarts = zip(*points, strict=True)
        jobs = self.executor.map_array(train_point, list(configs),
                                       [str(f) for f in folders], list(restarts))
        for job, folder in zip(jobs, folders, strict=True):
            print(f"[sweep] {folder.name}: job {job.job_id}")
        for job in jobs:
            job.wait()
        return {f: _outcome(j) for j, f in zip(jobs, folders, strict=True)}


def _outcome(job) -> Callable[[], dict]:
    def get():
        try:
            return job.result()
        except Exception as e:  # noqa: BLE001 -- submitit re-raises the job's error as text
            last = [x for x in str(e).splitlines() if x.strip()][-1:] or [repr(e)]
            raise RuntimeError(f"job {job.job_id} failed: {last[0].strip()} (log: "
                               f"{job.paths.stderr})") from None
    return get
