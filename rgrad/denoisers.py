"""The denoiser eps_theta(z_t, gamma_t) of the diffusion experiments (a residual MLP).

Conditioned, as in VDM, on the normalised noise level gamma_t rather than on t, so that every
schedule with the same endpoints has the same expected bound for the same denoiser
(:func:`rgrad.diffusion.diffusion_loss`).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from rgrad.diffusion import alpha_sigma, normalise_gamma


class Denoiser(nn.Module):
    """eps_theta(z_t, gamma_t): a residual MLP F with a sinusoidal embedding of the noise level.

    F sees the normalised gamma_t (:func:`rgrad.diffusion.normalise_gamma`, embedded like VDM's
    1000 c), not t. With ``data_rms > 0`` the output is preconditioned (EDM-style, for eps):
    eps_hat = c_skip z + c_out F(c_in z), with c_skip z = E[eps | z] and c_out^2 its residual
    variance when x has per-coordinate second moment ``data_rms``^2:

        v = alpha^2 rms^2 + sigma^2,  c_in = v^-1/2,  c_skip = sigma / v,  c_out = alpha rms v^-1/2.

    Without it, an MLP narrower than the data (512 < 784 on MNIST) cannot even pass the noise
    through at high noise levels, where eps_hat ~ z is nearly the answer. ``data_rms = 0``: the
    plain network, eps_hat = F(z).
    ``pixel_hidden > 0`` adds a per-coordinate path: one small MLP, shared by all coordinates,
    of each coordinate's z_i, the global network's output there and the noise embedding. At low
    noise eps is nearly an affine function of each z_i alone, slope 1/sigma; through the global
    MLP's 512-wide bottleneck that map cannot be represented for 784 pixels, per pixel it is
    one unit's work.
    """

    hidden: int
    depth: int
    out: int
    emb_dim: int = 32
    data_rms: float = 0.0
    pixel_hidden: int = 0

    @nn.compact
    def __call__(self, z, gamma):
        c = normalise_gamma(gamma)
        half = self.emb_dim // 2
        freqs = jnp.exp(-np.log(10000.0) * jnp.arange(half) / half)
        emb = jnp.concatenate([jnp.sin(1000.0 * c * freqs), jnp.cos(1000.0 * c * freqs)])
        if self.data_rms:
            alpha, sigma = alpha_sigma(gamma)
            v = alpha**2 * self.data_rms**2 + sigma**2
            c_in, c_skip, c_out = jax.lax.rsqrt(v), sigma / v, alpha * self.data_rms / jnp.sqrt(v)
        else:
            c_in, c_skip, c_out = 1.0, 0.0, 1.0
        e = nn.silu(nn.Dense(self.hidden)(emb))
        h = nn.Dense(self.hidden)(c_in * z)
        for _ in range(self.depth):
            r = nn.Dense(self.hidden)(nn.silu(nn.LayerNorm()(h))) + nn.Dense(self.hidden)(e)
            h = h + nn.Dense(self.hidden)(nn.silu(r))
        f = nn.Dense(self.out, kernel_init=nn.initializers.zeros)(nn.silu(nn.LayerNorm()(h)))
        if self.pixel_hidden:  # the same small MLP on every coordinate (a 1x1 convolution)
            p = nn.Dense(self.pixel_hidden)(jnp.stack([c_in * z, f], -1))
            p = p + nn.Dense(self.pixel_hidden)(emb)[None, :]
            p = nn.Dense(self.pixel_hidden)(nn.silu(p))
            f = f + nn.Dense(1, kernel_init=nn.initializers.zeros)(nn.silu(p))[:, 0]
        return c_skip * z + c_out * f
