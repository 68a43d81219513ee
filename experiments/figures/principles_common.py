"""Small helpers shared by the principles figures: Gauss-Hermite moments, variance errors."""

from __future__ import annotations

import functools

import numpy as np


def variance_and_se(draws: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sample variance along `axis` and its standard error sqrt((m4 - var^2) / n)."""
    draws = np.asarray(draws, np.float64)
    n = draws.shape[axis]
    centred = draws - draws.mean(axis, keepdims=True)
    var = np.mean(centred**2, axis) * n / (n - 1)
    m4 = np.mean(centred**4, axis)
    return var, np.sqrt(np.maximum(m4 - var**2, 0.0) / n)


def normal_nodes(n: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for E over eps ~ N(0, 1) (weights sum to 1)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / w.sum()


@functools.cache
def legendre_nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (cached: O(n^3) to compute)."""
    return np.polynomial.legendre.leggauss(n)


@functools.cache
def normal_nodes_dense(n: int = 600, half_width: float = 12.0):
    """Gauss-Legendre nodes on [-half_width, half_width] weighted by the N(0, 1) density.

    Unlike Gauss-Hermite this resolves integrands much narrower than the Gaussian (e.g.
    exp(-k x^2) under N(mu, 25)).
    """
    x, w = legendre_nodes(n)
    x, w = half_width * x, half_width * w * np.exp(-0.5 * (half_width * x) ** 2)
    return x, w / w.sum()


def fit_loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def savefig(fig, path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)


def pad_columns(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Pad 1-D columns with NaN to a common length (for one CSV of several panels)."""
    cols = {k: np.asarray(v, np.float64).ravel() for k, v in cols.items()}
    n = max(len(v) for v in cols.values())
    return {k: np.pad(v, (0, n - len(v)), constant_values=np.nan) for k, v in cols.items()}
