"""TensorBoard event files written in the calling thread, and cut back to a step on resume.

tensorboardX's ``SummaryWriter`` hands events to a background thread through a bounded queue:
a write error (a full disk) kills the thread, after which the queue fills and the main thread
blocks forever, and its ``flush`` does not drain the queue, so a killed run loses what was
queued. :class:`EventLog` writes each event in the caller's thread with tensorboardX's own
``EventsWriter`` and summary protos: an error is raised where it happens, and ``flush`` means
"on disk" (it fsyncs).

Files are TFRecord streams of ``Event`` protos (length, its crc, payload, payload crc).
:func:`truncate_events` rewrites them without the events past a step, so a resumed run's files
equal an uninterrupted run's (a torn last record of a killed run is dropped with them).
"""

from __future__ import annotations

import os
import pathlib
import struct
import time

import numpy as np
from tensorboardX import summary as tbs
from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto import event_pb2, summary_pb2

HPARAMS_TAG = "_hparams_/session_start_info"


class EventLog:
    """One TensorBoard run (a folder of event files), written synchronously.

    Args:
      logdir: the run's folder (created).
    """

    def __init__(self, logdir: pathlib.Path):
        logdir.mkdir(parents=True, exist_ok=True)
        # A per-process, per-start suffix: two sessions never share (and overwrite) a file.
        suffix = f".{os.getpid()}.{time.time_ns()}"
        self._w = EventsWriter(str(logdir / "events"), filename_suffix=suffix)

    def _add(self, step: int, values: list[summary_pb2.Summary.Value]) -> None:
        event = event_pb2.Event(wall_time=time.time(), step=int(step),
                                summary=summary_pb2.Summary(value=values))
        self._w.write_event(event)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Scalars ``tag -> value`` at ``step`` (one event)."""
        self._add(step, [v for k, x in values.items() for v in tbs.scalar(k, x).value])

    def images(self, step: int, images: dict[str, np.ndarray]) -> None:
        """Image grids ``tag -> [H, W, C]`` floats in [0, 1] (C = 1 or 3)."""
        self._add(step, [v for k, x in images.items()
                         for v in tbs.image(k, np.clip(x, 0.0, 1.0), dataformats="HWC").value])

    def text(self, step: int, tag: str, text: str) -> None:
        """Markdown ``text`` under ``tag`` (the text plugin)."""
        self._add(step, list(tbs.text(tag, text).value))

    def hparams(self, step: int, hparams: dict, metric_tags: list[str]) -> None:
        """The hparams plugin's experiment, session start and end for this run.

        Args:
          hparams: name -> bool, str or number (others are written as their str).
          metric_tags: scalar tags the hparams table shows as columns.
        """
        clean = {k: v if isinstance(v, (bool, str, int, float)) else str(v)
                 for k, v in hparams.items()}
        for summary in tbs.hparams(clean, dict.fromkeys(metric_tags, 0.0)):
            self._add(step, list(summary.value))

    def flush(self) -> None:
        """Write everything so far to disk (fsync)."""
        self._w.flush()

    def close(self) -> None:
        self._w.close()


def grid(images: np.ndarray, ncol: int = 8) -> np.ndarray:
    """Tile ``images`` [N, H, W] or [N, H, W, C] into one [rows*(H+1)+1, ..., C] image."""
    x = np.asarray(images, np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"eval_images: an image batch must be [N, H, W] or [N, H, W, 1|3], "
                         f"got shape {x.shape}.")
    n, h, w, c = x.shape
    ncol = min(n, ncol)
    nrow = -(-n // ncol)
    out = np.ones((nrow * (h + 1) + 1, ncol * (w + 1) + 1, c), np.float32)  # white borders
    for i in range(n):
        r, q = divmod(i, ncol)
        out[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + q * (w + 1): 1 + q * (w + 1) + w] = x[i]
    return out


def read_events(path: pathlib.Path) -> tuple[list[tuple[event_pb2.Event, bytes]], bool]:
    """The complete records of an event file, as (event, raw record); and whether it was torn.

    A record cut short by a kill (or one that does not parse) ends the stream there.
    """
    data, out, i = path.read_bytes(), [], 0
    while i + 12 <= len(data):
        (n,) = struct.unpack("<Q", data[i:i + 8])
        end = i + 12 + n + 4
        if end > len(data):
            break
        try:
            event = event_pb2.Event.FromString(data[i + 12:i + 12 + n])
        except Exception:  # noqa: BLE001 -- protobuf's DecodeError: a garbled tail
            break
        out.append((event, data[i:end]))
        i = end
    return out, i != len(data)


def event_files(root: pathlib.Path) -> list[pathlib.Path]:
    """Every event file under ``root`` (recursively), sorted by path."""
    return sorted(root.rglob("events.out.tfevents.*")) if root.exists() else []


def truncate_events(root: pathlib.Path, step: int) -> set[str]:
    """Drop every event after ``step`` from the event files under ``root``; step 0: all files.

    Returns:
      The tags (per run folder, ``"folder:tag"``) that remain, so a resumed writer can tell
      what it already wrote (its hparams, say).
    """
    kept_tags: set[str] = set()
    for path in event_files(root):
        if step == 0:
            path.unlink()
            continue
        records, torn = read_events(path)
        keep = [(e, raw) for e, raw in records if e.step <= step]
        run = path.parent.relative_to(root).as_posix()
        kept_tags |= {f"{run}:{v.tag}" for e, _ in keep for v in e.summary.value}
        if len(keep) < len(records) or torn:
            tmp = path.parent / ".truncating"  # no "tfevents" in the name: never read as events
            tmp.write_bytes(b"".join(raw for _, raw in keep))
            tmp.replace(path)
    return kept_tags
