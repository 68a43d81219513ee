"""Small plotting helpers shared by experiments and figures (matplotlib, Agg backend)."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save_image_grid(images: np.ndarray, path: str | pathlib.Path, ncol: int = 8,
                    title: str | None = None, side: int = 28) -> pathlib.Path:
    """Save ``images`` [N, side*side] or [N, side, side] in [0, 1] as one PNG grid."""
    images = np.asarray(images, np.float32).reshape(-1, side, side)
    n = len(images)
    nrow = -(-n // ncol)
    grid = np.ones((nrow * (side + 2), ncol * (side + 2)), np.float32)
    for i, im in enumerate(images):
        r, c = divmod(i, ncol)
        grid[r * (side + 2) + 1: r * (side + 2) + 1 + side,
             c * (side + 2) + 1: c * (side + 2) + 1 + side] = im
    fig, ax = plt.subplots(figsize=(ncol * 0.6, nrow * 0.6 + (0.4 if title else 0)))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=8)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
