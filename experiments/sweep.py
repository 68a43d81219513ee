"""Run a grid or list of config overrides, one workdir per point, and tabulate the results.

    python -m experiments.sweep --config=configs/vae.py:quick --workdir=runs/sweep \
        --sweep="estimator=pathwise,score_function;optim.lr=1e-3,3e-4"

Without ``--sweep`` the config file's own ``sweep(add, arg)`` function defines the points
(big_vision's format: it calls ``add(**{"optim.lr": 1e-3, ...})`` once per point). Points whose
workdir holds ``final_metrics.json`` are skipped; unfinished ones resume from their checkpoints.
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
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from experiments import run
from rgrad import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Base config file[:variant].",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Parent folder of the points' workdirs.")
_SWEEP = flags.DEFINE_string("sweep", "", "Grid 'a=1,2;b.c=x,y'; empty: the config's sweep().")
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


def run_sweep(base_config, workdir: str | pathlib.Path, points: list[dict],
              progress: bool = True) -> list[dict]:
    """Train every point (skipping finished ones) and write the results table."""
    workdir = pathlib.Path(workdir)
    rows = []
    for point in points:
        try:  # every point is checked, finished or not: a typo fails before any training
            config = run.resolve(base_config, point)
        except ValueError as e:
            raise ValueError(f"sweep point {point}: {e}") from None
        out = workdir / point_name(point)
        done = out / "final_metrics.json"
        if done.exists():
            print(f"[sweep] {out.name}: finished, skipped")
            result = json.loads(done.read_text())
        else:
            print(f"[sweep] {out.name}: training")
            result = run.run(config, workdir=out, progress=progress).output
        for s in result["summary"]:
            row = {**point}
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
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    try:
        points = (train.parse_sweep(_SWEEP.value) if _SWEEP.value
                  else config_sweep(config_flags.get_config_filename(flags.FLAGS["config"])))
        if not points:
            raise ValueError("no sweep points: pass --sweep='name=v1,v2;...' or define "
                             "sweep(add, arg) in the config file.")
        run_sweep(_CONFIG.value, _WORKDIR.value, points)
    except (ValueError, train.NonFiniteError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"[sweep] results: {pathlib.Path(_WORKDIR.value) / 'results.md'}")


if __name__ == "__main__":
    app.run(main)
