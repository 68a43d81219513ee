"""Read a finished run's metrics (mean and std over seeds per step)."""

from __future__ import annotations

import collections
import json
import pathlib

import numpy as np


def curves(workdir: pathlib.Path, split: str, x: str | None, y: str):
    """Per logged step: x (the step, or a metric), mean and std over members of metric y."""
    rows = collections.defaultdict(list)
    for line in (pathlib.Path(workdir) / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["split"] == split and y in r:
            rows[r["step"]].append((r[x] if x else r["step"], r[y]))
    steps = sorted(rows)
    xs = np.array([np.mean([a for a, _ in rows[s]]) for s in steps])
    ys = np.array([[b for _, b in rows[s]] for s in steps])
    return xs, ys.mean(1), ys.std(1)
