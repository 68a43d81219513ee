"""Metric sinks of the loop: JSON lines, TensorBoard, optional wandb, progress, summary tables.

``metrics.jsonl`` holds one line per (step, split, member). TensorBoard has one run per member
under ``tb/`` (``tb/seed0``, or ``tb/seed1_lr=0.001`` in a vmapped sweep) with the scalars
(``train/*``, ``eval/*``, ``perf/steps_per_sec``), image grids at every evaluation
(``images/*``, from :meth:`rgrad.task.Task.eval_images`), the resolved config (text plugin)
and the member's hyperparameters (hparams plugin, written at the first evaluation, with the
eval metrics as its columns).

Durability: event files are written in the loop's thread (:mod:`rgrad.tb_events`) and flushed
to disk by :meth:`MetricWriter.flush` before every checkpoint. On resume, JSON lines and events
after the restored step are dropped, so a killed-and-resumed run's files equal an
uninterrupted run's; a torn last line of ``metrics.jsonl`` (a kill mid-write) is dropped with
a note. A failed write (a full disk) raises :class:`LogWriteError`, one line.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import pathlib
import sys
import time
from typing import Any

import numpy as np

from rgrad import tb_events, wandb_sink
from rgrad.metrics_jsonl import _floats, _truncate_after, read_metrics, write_json_atomic
from rgrad.summary_table import format_table, summarize, sweep_columns

__all__ = ["LogWriteError", "MetricWriter", "format_table", "member_names", "read_metrics",
           "summarize", "sweep_columns", "write_json_atomic"]

PLAIN_EVERY_S = 30.0  # without a terminal: one progress line per this many seconds


class LogWriteError(RuntimeError):
    """Writing the run's logs failed (a full disk, a read-only folder)."""


class MetricWriter:
    """Writes train/eval metrics and images for every member of a run.

    Args:
      workdir: the run's folder.
      resume_step: the restored checkpoint's step (0: a fresh run; older logs are removed).
      progress: show progress (a bar on a terminal, a line every 30 s otherwise).
      total, initial: the run's last and first step.
      config: the resolved config (written to TensorBoard; its ``wandb`` section).
      member_list: the loop's members (names the TensorBoard runs); default one member.
      enabled: False writes nothing and prints nothing (a process other than the first).
    """

    def __init__(self, workdir: pathlib.Path, *, resume_step: int, progress: bool, total: int,
                 initial: int, config=None, member_list: list[dict] | None = None,
                 enabled: bool = True):
        self.workdir, self.enabled, self.total = pathlib.Path(workdir), enabled, total
        self.path = self.workdir / "metrics.jsonl"
        self.members = member_list or [{"seed": 0, "point": 0, "hparams": {}}]
        self.names = member_names(self.members)
        self._failed = False
        self._bar, self._plain, self._last_plain = None, False, -math.inf
        self._tb: list[tb_events.EventLog] = []
        self._wandb = None
        self._hparams_done: set[int] = set()
        if not enabled:
            return
        if progress and sys.stderr.isatty():
            from tqdm.auto import tqdm  # one rate only: the loop's steps/s, in the postfix
            self._bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True,
                             bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} "
                                        "[{elapsed}<{remaining}{postfix}]")
        self._plain = progress and self._bar is None
        tb_root = self.workdir / "tb"
        with self._guard(self.path):
            torn = _truncate_after(self.path, resume_step)
            self._jsonl = open(self.path, "a")
        with self._guard(tb_root):
            kept = tb_events.truncate_events(tb_root, resume_step)
            self._tb = [tb_events.EventLog(tb_root / n) for n in self.names]
            self._hparams = [member_hparams(config, m) for m in self.members]
            self._hparams_done = {i for i, n in enumerate(self.names)
                                  if f"{n}:{tb_events.HPARAMS_TAG}" in kept}
            if config is not None:  # once per run folder (a fork's new folder gets it too)
                text = "```json\n" + config.to_json_best_effort(indent=2) + "\n```"
                for n, log in zip(self.names, self._tb, strict=True):
                    if f"{n}:config/text_summary" not in kept:
                        log.text(0, "config", text)
        if torn:
            self.note(f"{self.path}: dropped a torn last line (a run killed mid-write): "
                      f"{torn[:80]!r}")
        if wandb_sink.enabled(config):
            with self._guard(self.workdir / "wandb"):
                self._wandb = wandb_sink.WandbSink(config, self.workdir, self.names,
                                                   self._hparams)

    @contextlib.contextmanager
    def _guard(self, path: pathlib.Path):
        """OSError (and wandb's errors) -> one-line LogWriteError; later closes stay quiet."""
        try:
            yield
        except OSError as e:
            self._failed = True
            fix = "free disk space" if e.errno == errno.ENOSPC else "make it writable"
            raise LogWriteError(f"cannot write the run's logs at {path}: {e.strerror or e}; "
                                f"{fix}, then rerun the same command to resume.") from None

    def note(self, text: str) -> None:
        """A message line (through the bar, so it does not tear it)."""
        if not self.enabled:
            return
        lines = text.splitlines() or [""]
        msg = "\n".join([f"[rgrad] {lines[0]}", *(f"        {x}" for x in lines[1:])])
        if self._bar is not None:
            self._bar.write(msg)
        else:
            print(msg, flush=True)

    def _write(self, step: int, split: str, per_member: list[dict[str, float]],
               extra: dict[str, float] | None = None) -> None:
        if not self.enabled:
            return
        with self._guard(self.path):
            for i, metrics in enumerate(per_member):
                row = {"step": step, "split": split, "member": i, **_floats(metrics)}
                self._jsonl.write(json.dumps(row) + "\n")
            self._jsonl.flush()
        scalars = [{f"{split}/{k}": float(v) for k, v in m.items()} | (extra or {})
                   for m in per_member]
        with self._guard(self.workdir / "tb"):
            for log, s in zip(self._tb, scalars, strict=True):
                log.scalars(step, s)
        if self._wandb is not None:
            for i, s in enumerate(scalars):
                self._wandb.scalars(i, step, s)

    def write_train(self, step: int, metrics: dict[str, np.ndarray], member_list=None,
                    steps_per_sec: float = float("nan")) -> None:
        """Mean train metrics of the last chunk (``name -> [M]``) and its steps/s."""
        del member_list  # the constructor's
        per_member = [{k: float(v[i]) for k, v in metrics.items()}
                      for i in range(len(self.members))]
        self._write(step, "train", per_member, {"perf/steps_per_sec": float(steps_per_sec)})
        self._progress(step, per_member, steps_per_sec)

    def _progress(self, step: int, per_member: list[dict[str, float]], rate: float) -> None:
        # Means over the seeds of each sweep point: never averaged across points.
        points = summarize(per_member, self.members)
        names = list(per_member[0])[: 3 if len(points) == 1 else 1]
        shown = {f"{k}" + (f"@p{p['point']}" if len(points) > 1 else ""):
                 f"{p['metrics'][k]['mean']:.4g}" for p in points[:4] for k in names}
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
            self._bar.set_postfix({"steps/s": f"{rate:.1f}", **shown}, refresh=True)
        elif self._plain and self.enabled:
            now = time.monotonic()
            if now - self._last_plain >= PLAIN_EVERY_S or step == self.total:
                self._last_plain = now
                text = ", ".join(f"{k}={v}" for k, v in shown.items())
                self.note(f"step {step}/{self.total} ({rate:.1f} steps/s) {text}")

    def write_eval(self, step: int, per_member: list[dict[str, float]], member_list=None
                   ) -> None:
        """Evaluation metrics per member; the first evaluation also writes the hparams."""
        del member_list
        self._write(step, "eval", per_member)
        if not self.enabled:
            return
        with self._guard(self.workdir / "tb"):
            for i, log in enumerate(self._tb):
                if i not in self._hparams_done:
                    log.hparams(step, self._hparams[i], [f"eval/{k}" for k in per_member[i]])
                    self._hparams_done.add(i)
        self.note(format_table(summarize(per_member, self.members), f"step {step} eval"))

    def write_images(self, step: int, per_member: list[dict[str, np.ndarray]]) -> None:
        """Each member's images (``name -> [N, H, W(, C)]``) as grids ``images/<name>``."""
        if not self.enabled or not per_member:
            return
        grids = [{f"images/{k}": tb_events.grid(v) for k, v in m.items()} for m in per_member]
        with self._guard(self.workdir / "tb"):
            for log, g in zip(self._tb, grids, strict=True):
                log.images(step, g)
        if self._wandb is not None:
            for i, g in enumerate(grids):
                self._wandb.images(i, step, g)

    def flush(self) -> None:
        """Everything logged so far on disk (called before each checkpoint)."""
        if not self.enabled:
            return
        with self._guard(self.workdir / "tb"):
            for log in self._tb:
                log.flush()

    def write_final(self, per_member: list[dict[str, float]], member_list=None
                    ) -> dict[str, Any]:
        """``final_metrics.json``: per member metrics and the seeds' summary per point."""
        del member_list
        summary = {"members": [{**m, "metrics": _floats(r)}
                               for m, r in zip(self.members, per_member, strict=True)],
                   "summary": summarize(per_member, self.members)}
        if self.enabled:
            with self._guard(self.workdir):
                write_json_atomic(self.workdir / "final_metrics.json", summary)
            self.note(format_table(summary["summary"], "final"))
        return summary

    def close(self) -> None:
        """Close every sink; after a failed write, quietly (the error was raised already)."""
        if not self.enabled:
            return
        try:
            if self._bar is not None:
                self._bar.close()
            with self._guard(self.path):
                self._jsonl.close()
                for log in self._tb:
                    log.close()
            if self._wandb is not None:
                self._wandb.close()
        except (LogWriteError, AttributeError):
            if not self._failed:
                raise


def member_names(member_list: list[dict]) -> list[str]:
    """TensorBoard run names: ``seed<S>``, plus the swept values (``seed0_lr=0.001``)."""
    hps = [m["hparams"] for m in member_list]
    swept = [k for k in hps[0] if len({h[k] for h in hps}) > 1]
    return [f"seed{m['seed']}" + ("_" + ",".join(f"{k}={m['hparams'][k]:g}" for k in swept)
                                  if swept else "") for m in member_list]


def member_hparams(config, member: dict) -> dict[str, Any]:
    """The resolved config's leaves (dotted names) with the member's own swept values."""
    flat: dict[str, Any] = {}

    def walk(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                flat[f"{prefix}{k}"] = v if isinstance(v, (bool, str, int, float)) else str(v)

    if config is not None:
        walk(json.loads(config.to_json_best_effort()))
    for k, v in member["hparams"].items():
        flat["optim.lr" if k == "lr" else k] = float(v)
    flat["member.seed"], flat["member.point"] = member["seed"], member["point"]
    return flat
