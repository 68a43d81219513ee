"""2-D toy data of the diffusion experiments: a mixture of 8 Gaussians on a ring.

Its exact log-density makes the bound of a diffusion model comparable with the data entropy,
and the fraction of samples near a mode measures mode coverage.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

RING_K, RING_RADIUS, RING_STD = 8, 1.0, 0.1  # components, ring radius, component std


def ring_means() -> np.ndarray:
    """[K, 2] component means, evenly spaced on the circle of radius RING_RADIUS."""
    a = 2 * np.pi * np.arange(RING_K) / RING_K
    return np.stack([np.cos(a), np.sin(a)], -1).astype(np.float32) * RING_RADIUS  # [K, 2]


def ring_sample(key: jax.Array, n: int) -> jax.Array:
    """[n, 2] draws from the mixture (components equally likely)."""
    kc, kn = jax.random.split(key)
    c = jax.random.randint(kc, (n,), 0, RING_K)
    return jnp.asarray(ring_means())[c] + RING_STD * jax.random.normal(kn, (n, 2))


def ring_log_density(x: jax.Array) -> jax.Array:
    """The exact log-density of the mixture; [..., 2] -> [...]."""
    means = jnp.asarray(ring_means()).reshape((1,) * (x.ndim - 1) + (RING_K, 2))
    d = x[..., None, :] - means  # [..., K, 2]
    lp = -0.5 * jnp.sum(d**2, -1) / RING_STD**2 - np.log(2 * np.pi * RING_STD**2)
    return jax.nn.logsumexp(lp, -1) - np.log(RING_K)


def in_mode_fraction(x: jax.Array) -> jax.Array:
    """Fraction of points within 3 component std of a ring mean (true data: 1 - e^-4.5).

    Args:
      x: [N, 2] points.

    Returns:
      A scalar in [0, 1].
    """
    means = jnp.asarray(ring_means()).reshape((1, RING_K, 2))
    d2 = jnp.min(jnp.sum((x[:, None, :] - means) ** 2, -1), -1)
    return jnp.mean(d2 < (3 * RING_STD) ** 2)


def plot_ring_samples(samples, path, title, ax=None):
    """Scatter of 2-D samples over contours of the true density."""
    import matplotlib.pyplot as plt

    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(4, 4))
    g = np.linspace(-1.6, 1.6, 200)
    xx, yy = np.meshgrid(g, g)
    logp = np.asarray(ring_log_density(jnp.stack([xx, yy], -1)))
    ax.contour(xx, yy, np.exp(logp), levels=6, cmap="Blues")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="C3", alpha=0.4, label="samples")
    ax.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), xlabel="x1", ylabel="x2", title=title)
    ax.legend(loc="upper right", fontsize=7)
    if own:
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
    return pathlib.Path(path) if path else None
