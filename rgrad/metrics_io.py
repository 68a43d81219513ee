"""Metric sinks of the loop: JSON lines, TensorBoard events, a progress bar, the final summary.

``metrics.jsonl`` holds one line per (step, split, member). On resume, lines after the restored
step are dropped and TensorBoard purges its events past it, so a resumed run's files equal an
uninterrupted run's.
"""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any

import numpy as np


class MetricWriter:
    """Writes train/eval metrics for every member of a run."""

    def __init__(self, workdir: pathlib.Path, *, resume_step: int, progress: bool, total: int,
                 initial: int):
        from tensorboardX import SummaryWriter
        from tqdm.auto import tqdm

        self.workdir = workdir
        self.path = workdir / "metrics.jsonl"
        _truncate_after(self.path, resume_step)
        self._jsonl = open(self.path, "a")
        self._tb = SummaryWriter(str(workdir / "tb"), purge_step=resume_step or None)
        self._bar = tqdm(total=total, initial=initial, disable=not progress, unit="step",
                         dynamic_ncols=True)

    def note(self, text: str) -> None:
        self._bar.write(f"[rgrad] {text}")

    def _write(self, step: int, split: str, per_member: list[dict[str, float]]) -> None:
        for i, metrics in enumerate(per_member):
            row = {"step": step, "split": split, "member": i, **_floats(metrics)}
            self._jsonl.write(json.dumps(row) + "\n")
            suffix = f"/m{i}" if len(per_member) > 1 else ""
            for k, v in metrics.items():
                self._tb.add_scalar(f"{split}/{k}{suffix}", float(v), step)
        self._jsonl.flush()

    def write_train(self, step: int, metrics: dict[str, np.ndarray], member_list,
                    steps_per_sec: float) -> None:
        per_member = [{k: float(v[i]) for k, v in metrics.items()}
                      for i in range(len(member_list))]
        self._write(step, "train", per_member)
        self._bar.update(step - self._bar.n)
        shown = {k: f"{np.mean(v):.4g}" for k, v in list(metrics.items())[:4]}
        self._bar.set_postfix(shown | {"it/s": f"{steps_per_sec:.1f}"})

    def write_eval(self, step: int, per_member: list[dict[str, float]], member_list) -> None:
        self._write(step, "eval", per_member)
        self.note(f"step {step} eval: " + format_summary(summarize(per_member, member_list)))

    def write_final(self, per_member: list[dict[str, float]], member_list) -> dict[str, Any]:
        summary = {"members": [{**m, "metrics": _floats(r)}
                               for m, r in zip(member_list, per_member, strict=True)],
                   "summary": summarize(per_member, member_list)}
        write_json_atomic(self.workdir / "final_metrics.json", summary)
        self.note("final: " + format_summary(summary["summary"]))
        return summary

    def close(self) -> None:
        self._bar.close()
        self._jsonl.close()
        self._tb.close()


def write_json_atomic(path: pathlib.Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    tmp.replace(path)


def summarize(per_member: list[dict[str, float]], member_list) -> list[dict[str, Any]]:
    """Mean and std over seeds of each metric, per vmapped hyperparameter point."""
    points: dict[int, list[int]] = {}
    for i, m in enumerate(member_list):
        points.setdefault(m["point"], []).append(i)
    out = []
    for p, idx in points.items():
        names = per_member[idx[0]].keys()
        stats = {}
        for k in names:
            vals = np.array([per_member[i][k] for i in idx], dtype=np.float64)
            stats[k] = {"mean": float(vals.mean()), "std": float(vals.std()), "n": len(idx)}
        out.append({"point": p, "hparams": member_list[idx[0]]["hparams"], "metrics": stats})
    return out


def format_summary(summary: list[dict[str, Any]]) -> str:
    parts = []
    for s in summary:
        stats = ", ".join(
            f"{k}={v['mean']:.4g}" + (f"±{v['std']:.2g}" if v["n"] > 1 else "")
            for k, v in s["metrics"].items())
        prefix = f"[{_fmt_hp(s['hparams'])}] " if len(summary) > 1 else ""
        parts.append(prefix + stats)
    return "; ".join(parts)


def _fmt_hp(hp: dict[str, float]) -> str:
    return ",".join(f"{k}={v:g}" for k, v in hp.items())


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        f = float(v)
        out[k] = f if math.isfinite(f) else str(f)
    return out


def _truncate_after(path: pathlib.Path, step: int) -> None:
    """Drop JSON lines logged after ``step`` (written by a run that died before checkpointing)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line)["step"] <= step]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in keep))
    tmp.replace(path)


def read_metrics(workdir: str | pathlib.Path, split: str = "train") -> list[dict[str, Any]]:
    """The JSON lines of ``split`` in a workdir (for tests, figures and sweeps)."""
    path = pathlib.Path(workdir) / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["split"] == split]
