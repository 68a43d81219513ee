"""``metrics.jsonl`` (one JSON line per step, split and member) and atomic JSON files.

A run killed mid-write leaves a torn last line: readers leave it out, and a resuming writer
drops it (with the lines past the restored step). A bad line anywhere else is an error naming
the file and the line.
"""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any


def write_json_atomic(path: pathlib.Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    tmp.replace(path)


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        f = float(v)
        out[k] = f if math.isfinite(f) else str(f)
    return out


def _parse_lines(path: pathlib.Path) -> tuple[list[dict[str, Any]], list[str], str]:
    """(rows, their lines, a torn last line or ""); a bad line elsewhere is a ValueError."""
    text = path.read_text()
    lines = text.splitlines()
    rows, kept, torn = [], [], ""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
            kept.append(line)
        except json.JSONDecodeError as e:
            if n == len(lines) and not text.endswith("\n"):
                torn = line  # the last write of a killed run
                continue
            raise ValueError(f"{path}:{n} is not a JSON line ({e}); fix or remove that line."
                             ) from None
    return rows, kept, torn


def _truncate_after(path: pathlib.Path, step: int) -> str:
    """Drop JSON lines logged after ``step`` (a run that died before checkpointing) and a torn
    last line; return the torn line ("" if none)."""
    if not path.exists():
        return ""
    rows, lines, torn = _parse_lines(path)
    keep = [line for r, line in zip(rows, lines, strict=True) if r["step"] <= step]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in keep))
    tmp.replace(path)
    return torn


def read_metrics(workdir: str | pathlib.Path, split: str = "train") -> list[dict[str, Any]]:
    """The JSON lines of ``split`` in a workdir (a line being written is left out)."""
    rows, _, _ = _parse_lines(pathlib.Path(workdir) / "metrics.jsonl")
    return [r for r in rows if r["split"] == split]
