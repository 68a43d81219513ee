"""Procedural texture: tune (omega, phi, sigma) of a jittered sinusoid by pathwise gradients.

The texture at pixel x (coordinates in pixels, [2]) is I(x) = sin(omega . u + phi) with the
jittered coordinate u = x + sigma eps, eps ~ N(0, I_2) drawn independently per pixel: a grating
whose crispness sigma controls. Its expectation and autocorrelation are closed-form,

    E I(x) = exp(-|omega|^2 sigma^2 / 2) sin(omega . x + phi),
    E I(x) I(x + d) = 1/2 exp(-|omega|^2 sigma^2) cos(omega . d)     (d != 0),

so a target rendered with known parameters identifies them through two statistics that a
perceptual loss compares: the autocorrelation over small lags (the stationary texture
statistic: orientation, wavelength, jitter) and a blurred image (the phase, which a stationary
statistic cannot see). The loss is E_eps[ ||ACF(I) - ACF(T)||^2 + w ||blur(I) - blur(T)||^2 ],
its gradient the pathwise one through u (``num_samples`` renders per step).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import samplers
from rgrad.task import Task


def render(params, size: int, *, key) -> jax.Array:
    """One [size, size] texture sample; params: omega [2], phi [], log_sigma []."""
    yy, xx = jnp.meshgrid(jnp.arange(size, dtype=jnp.float32),
                          jnp.arange(size, dtype=jnp.float32), indexing="ij")
    x = jnp.stack([xx, yy], -1)  # [S, S, 2]
    u = samplers.gaussian_diag(key, x, jnp.exp(params["log_sigma"]))  # [S, S, 2]
    return jnp.sin(u @ params["omega"] + params["phi"])


def autocorrelation(img: jax.Array, max_lag: int) -> jax.Array:
    """[L] mean products I(x) I(x + d) over the lags d in a half-window (no wrap-around)."""
    s = img.shape[0]
    out = []
    for dy in range(0, max_lag + 1):
        for dx in range(-max_lag, max_lag + 1):
            if (dy, dx) <= (0, 0):
                continue  # d and -d give the same statistic; d = 0 is the constant 1/2
            a = img[: s - dy, max(0, -dx): s - max(0, dx)]
            b = img[dy:, max(0, dx): s - max(0, -dx)]
            out.append(jnp.mean(a * b))
    return jnp.stack(out)


def blur(img: jax.Array, width: float) -> jax.Array:
    """Gaussian blur by FFT (periodic); keeps the grating, averages the per-pixel jitter."""
    s = img.shape[0]
    f = jnp.fft.fftfreq(s)
    fy, fx = jnp.meshgrid(f, f, indexing="ij")
    kernel = jnp.exp(-2 * (jnp.pi * width) ** 2 * (fx**2 + fy**2))
    return jnp.real(jnp.fft.ifft2(jnp.fft.fft2(img) * kernel))


class TextureTask(Task):
    def __init__(self, config):
        super().__init__(config)
        t = config.target
        self.truth = {"omega": jnp.asarray(t.omega, jnp.float32),
                      "phi": jnp.asarray(t.phi, jnp.float32),
                      "log_sigma": jnp.asarray(np.log(t.sigma), jnp.float32)}
        self.target = render(self.truth, config.size, key=jax.random.key(config.data_seed))
        self.target_stats = self.stats(self.target)

    def stats(self, img):
        return autocorrelation(img, self.config.max_lag), blur(img, self.config.blur_width)

    def init(self, key):
        del key
        i = self.config.init
        return {"omega": jnp.asarray(i.omega, jnp.float32), "phi": jnp.asarray(i.phi),
                "log_sigma": jnp.asarray(np.log(i.sigma), jnp.float32)}, {}

    def batch(self, data, state, params, *, key, step):
        return {}, state

    def sample_loss(self, params, key):
        acf, blurred = self.stats(render(params, self.config.size, key=key))
        acf_t, blurred_t = self.target_stats
        return (jnp.sum((acf - acf_t) ** 2)
                + self.config.phase_weight * jnp.mean((blurred - blurred_t) ** 2))

    def loss(self, params, state, batch, *, key, step, hparams):
        keys = jax.random.split(key, self.config.num_samples)
        loss = jnp.mean(jax.vmap(self.sample_loss, in_axes=(None, 0))(params, keys))
        return loss, ({}, state)

    def evaluate(self, params, state, *, key):
        """The fitted parameters and their errors against the target's; pure (float32)."""
        del state, key
        om, om_t = params["omega"], self.truth["omega"]  # [2]
        # Phase error modulo 2 pi, in (-pi, pi].
        dphi = jnp.mod(params["phi"] - self.truth["phi"] + jnp.pi, 2 * jnp.pi) - jnp.pi
        sigma = jnp.exp(params["log_sigma"])
        return {"omega_x": om[0], "omega_y": om[1], "phi_error": dphi, "sigma": sigma,
                "omega_rel_error": jnp.linalg.norm(om - om_t) / jnp.linalg.norm(om_t),
                "sigma_rel_error": jnp.abs(sigma / self.config.target.sigma - 1.0)}

    def artifacts(self, params, state, *, key, workdir: pathlib.Path):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        init, _ = self.init(key)
        imgs = [(self.target, "target"),
                (render(init, self.config.size, key=key), "initial parameters"),
                (render(params, self.config.size, key=key), "fitted parameters")]
        fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
        for ax, (img, title) in zip(axes, imgs, strict=True):
            ax.imshow(np.asarray(img), cmap="gray", vmin=-1, vmax=1)
            ax.set_title(title)
            ax.axis("off")
        fig.tight_layout()
        path = workdir / "textures.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return [path]


def check_config(config) -> None:
    """The autocorrelation's lags fit in the image."""
    if not config.max_lag < config.size:
        raise ValueError(f"config.max_lag={config.max_lag} is out of range: it must be below "
                         f"config.size={config.size} (the image's side).")


def make_task(config) -> TextureTask:
    return TextureTask(config)
