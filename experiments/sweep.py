r"""Run a grid or list of config overrides, one workdir per point, and tabulate the results.

    python -m experiments.sweep --config=configs/vae.py:quick --workdir=runs/sweep \
        --sweep="estimator=pathwise,score_function;optim.lr=1e-3,3e-4"

Without ``--sweep`` the config file's own ``sweep(add, arg)`` function defines the points
(big_vision's format: it calls ``add(**{"optim.lr": 1e-3, ...})`` once per point).

Every point is resolved and checked (its fields' domains, and that its folder holds no run of
another config) before the first one trains. A point is finished, and skipped, when its folder
holds ``final_metrics.json`` (written after its artifacts) from a run of the same identity and
length; unfinished ones resume from their checkpoints, shorter ones extend. A point whose
folder holds a run of another config (a changed base config) stops the sweep before any
training, naming the fields; ``--restart`` deletes and reruns those points. A diverging point
is reported as failed in the results table and the sweep goes on (exit status 1 at the end).
Writes ``results.csv`` and ``results.md`` in the sweep's workdir.

For continuous hyperparameters that keep shapes (lr, kl_weight, temperature), prefer
``--config.vmap_sweep=...``, which trains every point inside one compiled program.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import pathlib
import re

from absl import app, flags, logging
from ml_collections import config_flags

from experiments import cli, launch, registry, run
from rgrad import train
from rgrad import workdir as run_dir

_CONFIG = config_flags.DEFINE_config_file("config", None, "Base config file[:variant].",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Parent folder of the points' workdirs.")
_SWEEP = flags.DEFINE_string("sweep", "", "Grid 'a=1,2;b.c=x,y'; empty: the config's sweep().")
_RESTART = flags.DEFINE_bool("restart", False, "Delete and rerun the points whose folders "
                             "hold a run of another config.")
_LAUNCHER = flags.DEFINE_enum("launcher", "local", ["local", "slurm", "submitit_local"],
                              "local: here, one point after another; slurm: one SLURM job per "
                              "point (experiments/launch.py); submitit_local: those jobs as "
                              "local processes.")
_PARTITION = flags.DEFINE_string("slurm_partition", "", "SLURM partition (default: the "
                                 "cluster's).")
_TIME = flags.DEFINE_integer("slurm_time", 60, "Time limit of each job, minutes.")
_GPUS = flags.DEFINE_integer("slurm_gpus", 0, "GPUs per job.")
_CPUS = flags.DEFINE_integer("slurm_cpus", 4, "CPUs per job.")
_TASKS = flags.DEFINE_integer("slurm_tasks", 1, "Processes per job (>1: a multi-host run).")
_PARALLEL = flags.DEFINE_integer("slurm_parallel", 0, "Jobs running at once (0: no limit).")
flags.mark_flags_as_required(["config", "workdir"])


def config_sweep(config_path: str) -> list[dict]:
    """Points from the config file's ``sweep(add, arg)``; [] if it defines none."""
    path, _, arg = config_path.partition(":")
    spec = importlib.util.spec_from_file_location("_sweep_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "sweep"):
        return []
    points: list[dict] = []
    module.sweep(lambda **kw: points.append(kw), arg or None)
    return points


def point_name(point: dict) -> str:
    text = ",".join(f"{k}={v}" for k, v in point.items()) or "base"
    return re.sub(r"[^A-Za-z0-9_.,=+-]", "_", text)


def plan(base_config, workdir: pathlib.Path, points: list[dict], restart: bool = False
         ) -> list[tuple[dict, object, pathlib.Path, bool]]:
    """``(point, config, folder, finished)`` for every point, all checked before any trains.

    Raises:
        ValueError: one line: the first point with a bad field or value, or the points whose
            folders hold a run of another config (unless ``restart``).
    """
    out, stale = [], []
    for point in points:
        try:
            config = run.resolve(base_config, point)
            registry.check_config(config)  # every field's domain, without building the task
        except ValueError as e:
            raise ValueError(f"sweep point {point_name(point)}: {e}") from None
        folder = workdir / point_name(point)
        diffs = run_dir.identity_changes(folder, config)
        if diffs:
            stale.append(f"{folder.name}: {run_dir.summary(diffs, 4)}")
        finished = not diffs and (folder / "final_metrics.json").exists() and \
            _same_length(folder, config)
        out.append((point, config, folder, finished))
    if stale and not restart:
        raise ValueError(
            f"{len(stale)} sweep point(s) in {workdir} hold runs of another config "
            f"({'; '.join(stale[:3])}{'; ...' if len(stale) > 3 else ''}); nothing was trained. "
            "Use a new --workdir, or --restart to delete and rerun those points.")
    return out


def _same_length(folder: pathlib.Path, config) -> bool:
    """Whether the finished run in ``folder`` trained as long as ``config`` asks."""
    old = json.loads((folder / "config.json").read_text()) \
        if (folder / "config.json").exists() else {}
    if config.num_epochs > 0:
        return old.get("num_epochs") == config.num_epochs
    return old.get("num_epochs", 0) == 0 and old.get("num_steps") == config.num_steps


def run_sweep(base_config, workdir: str | pathlib.Path, points: list[dict],
              progress: bool = True, restart: bool = False, launcher=None) -> list[dict]:
    """Train every point (skipping finished ones) and write the results table.

    ``launcher``: an :class:`experiments.launch.Launcher` that trains the unfinished points as
    cluster jobs (all submitted, then awaited); None trains them here, one after another.

    Returns:
        One row per point and vmap sweep point: the point's fields, ``status`` ("ok", or
        "failed: ..." for a diverged point, whose metrics are absent) and the metrics' means
        (and ``_std`` over seeds).
    """
    workdir = pathlib.Path(workdir)
    rows = []
    planned = plan(base_config, workdir, points, restart)
    launched = launcher.train([(c, o, bool(run_dir.identity_changes(o, c)))
                               for _, c, o, done in planned if not done]) if launcher else {}
    for point, config, out, finished in planned:
        if finished:
            print(f"[sweep] {out.name}: finished, skipped")
            result = json.loads((out / "final_metrics.json").read_text())
        else:
            print(f"[sweep] {out.name}: {'its job ended' if out in launched else 'training'}")
            stale = bool(run_dir.identity_changes(out, config))
            try:
                result = launched[out]() if out in launched else run.run(
                    config, workdir=out, progress=progress, restart=stale).output
                if "failed" in result:  # a cluster job's point that diverged
                    raise train.NonFiniteError(result["failed"])
            except train.NonFiniteError as e:
                reason = str(e).split(";")[0].split(". ")[0].split(" (")[0]
                print(f"[sweep] {out.name}: failed: {reason}")
                rows.append({**point, "status": f"failed: {reason}"})
                continue
        for s in result["summary"]:
            row = {**point, "status": "ok"}
            if len(result["summary"]) > 1:
                row.update({f"vmap.{k}": v for k, v in s["hparams"].items()})
            for k, v in s["metrics"].items():
                row[k] = v["mean"]
                if v["n"] > 1:
                    row[f"{k}_std"] = v["std"]
            rows.append(row)
    write_table(rows, workdir)
    return rows


def write_table(rows: list[dict], workdir: pathlib.Path) -> None:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows(rows)
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    (workdir / "results.md").write_text("\n".join(lines) + "\n")


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {argv[1:]} (flags are --name=value)", status=2)
    logging.set_verbosity(logging.WARNING)
    cli.check_workdir(_WORKDIR.value)
    with cli.one_line_errors():
        points = (train.parse_sweep(_SWEEP.value) if _SWEEP.value
                  else config_sweep(config_flags.get_config_filename(flags.FLAGS["config"])))
        if not points:
            raise ValueError("no sweep points: pass --sweep='name=v1,v2;...' or define "
                             "sweep(add, arg) in the config file.")
        launcher = None if _LAUNCHER.value == "local" else launch.Launcher(
            _LAUNCHER.value, pathlib.Path(_WORKDIR.value) / "jobs", partition=_PARTITION.value,
            time_min=_TIME.value, gpus=_GPUS.value, cpus=_CPUS.value, tasks=_TASKS.value,
            parallel=_PARALLEL.value)
        run_sweep(_CONFIG.value, _WORKDIR.value, points, restart=_RESTART.value,
                  launcher=launcher)
    table = pathlib.Path(_WORKDIR.value) / "results.md"
    failed = [point_name(p) for p in points  # a diverged point has no final_metrics.json
              if not (table.parent / point_name(p) / "final_metrics.json").exists()]
    if failed:
        cli.fail(f"{len(failed)} of {len(points)} sweep points failed ({', '.join(failed)}); "
                 f"the others finished; see {table}.")
    print(f"[sweep] results: {table}")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
