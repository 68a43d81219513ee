"""Checks a run makes before it touches its workdir: the data it resumes on."""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any

import jax
import numpy as np

from rgrad import metrics_io


class ResumeMismatchError(ValueError):
    """A workdir's checkpoints were trained on other data than this process loaded."""


def data_fingerprint(data: Any) -> dict[str, Any] | None:
    """Shapes, dtypes and a BLAKE2 digest of the training data (``task.dataset()``), or None."""
    if data is None:
        return None
    h = hashlib.blake2b(digest_size=16)
    leaves = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(data):
        a = np.ascontiguousarray(np.asarray(leaf))
        h.update(jax.tree_util.keystr(path).encode() + f" {a.dtype} {a.shape}".encode())
        h.update(a.data)
        leaves.append({"path": jax.tree_util.keystr(path), "shape": list(a.shape),
                       "dtype": str(a.dtype)})
    return {"digest": h.hexdigest(), "leaves": leaves}


def check_resume_data(workdir: pathlib.Path, fingerprint: dict[str, Any] | None,
                      resuming: bool) -> None:
    """Refuse to resume checkpoints on data other than they were trained on.

    The fingerprint is written to ``data.json`` at a run's start. On resume a different
    fingerprint (e.g. the data dir was not found and the task fell back to other data, or
    ``data.max_train`` changed) raises before anything in the workdir is touched.
    """
    path = workdir / "data.json"
    if fingerprint is None:
        return
    if not (resuming and path.exists()):  # a new run (or one from before data.json existed)
        metrics_io.write_json_atomic(path, fingerprint)
        return
    old = json.loads(path.read_text())
    if old["digest"] != fingerprint["digest"]:
        shapes = lambda f: ", ".join(f"{x['path']} {x['shape']}" for x in f["leaves"])  # noqa: E731
        raise ResumeMismatchError(
            f"{workdir} holds checkpoints trained on other data ({shapes(old)}, digest "
            f"{old['digest'][:12]}) than this process loaded ({shapes(fingerprint)}, digest "
            f"{fingerprint['digest'][:12]}); nothing was changed. Point the data setting "
            "(RGRAD_DATA_DIR or --config.data.data_dir) at the data the run started with, "
            "or use a new --workdir.")
