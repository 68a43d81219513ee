"""What every figure returns, and the CSV writer for the plotted numbers."""

from __future__ import annotations

import csv
import dataclasses
import pathlib

import numpy as np


@dataclasses.dataclass
class FigureResult:
    """A drawn figure: the claim it illustrates, its files, and the numbers that show it."""

    claim: str
    files: list[pathlib.Path]
    numbers: dict[str, float]


def save_csv(path: str | pathlib.Path, columns: dict[str, np.ndarray]) -> pathlib.Path:
    """Write equal-length columns (the plotted numbers) as CSV."""
    path = pathlib.Path(path)
    names = list(columns)
    arrays = [np.asarray(columns[n]).ravel() for n in names]
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"save_csv: columns of unequal length {[len(a) for a in arrays]}.")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        w.writerows(zip(*[a.tolist() for a in arrays], strict=True))
    return path
