"""VDM's discretized decoder of 8-bit images: p(pixel level k | x_0) and its exact normaliser.

The last step of the diffusion of images (Kingma et al. 2021, VDM): x_0 = alpha_0 x + sigma_0
eps is decoded into one of ``vocab`` levels per pixel with logits -0.5 (x_0 / alpha_0 - l_j)^2
exp(-gamma_0) over the level centres l_j (:func:`rgrad.diffusion.encode_bytes`). The
reconstruction term of the bound is :func:`discrete_recon`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from rgrad.diffusion import alpha_sigma, q_sample


def discrete_decoder_logits(z0, gamma_0, vocab=256):
    """VDM's decoder: logits over the ``vocab`` levels of each pixel given x_0; [D] -> [D, V]."""
    levels = 2.0 * (jnp.arange(vocab) + 0.5) / vocab - 1.0  # [V]
    alpha = alpha_sigma(gamma_0)[0]
    return -0.5 * (z0[:, None] / alpha - levels[None, :]) ** 2 * jnp.exp(-gamma_0)


def _decoder_window_ok(gamma_0, vocab, window):
    """Whether levels more than ``window`` steps from x_0 / alpha_0 carry < e^-23 of the mass.

    The decoder's logits are -c (j - m)^2 in the level index j, c = 2 exp(-gamma_0) / vocab^2:
    the omitted terms are below exp(-c window^2) relative to the largest.
    """
    return 2.0 * jnp.exp(-gamma_0) / vocab**2 * window**2 > 23.0


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def decoder_log_norm(u, gamma_0, vocab, window):
    """log sum_j exp(-0.5 (u - l_j)^2 exp(-gamma_0)) over the levels l_j, per pixel; u [D].

    Sums over the ``2 window + 1`` levels nearest u when that is exact to e^-23 relative
    (:func:`_decoder_window_ok`; gamma_0 < -8.0 for 256 levels and window 16), over all
    ``vocab`` levels otherwise, chosen by ``lax.cond`` on the scalar gamma_0 (a branch, not a
    select, under ``vmap`` over examples). The derivatives are the decoder's moments computed by
    the same branch (custom JVP): differentiating through the cond itself cost 10x the window.
    """
    return _decoder_moments(u, gamma_0, vocab, window)[0]


def _decoder_moments(u, gamma_0, vocab, window):
    """(log normaliser, d/du, d/dgamma_0), each [D]."""
    prec = jnp.exp(-gamma_0)

    def moments(levels):  # levels [D, L] or [1, L]
        d = u[:, None] - levels
        logits = -0.5 * d**2 * prec
        lse = jax.nn.logsumexp(logits, axis=-1)
        p = jnp.exp(logits - lse[:, None])
        return lse, -prec * jnp.sum(p * d, -1), 0.5 * prec * jnp.sum(p * d**2, -1)

    def full(u):
        return moments((2.0 * (jnp.arange(vocab) + 0.5) / vocab - 1.0)[None, :])

    def windowed(u):
        centre = jnp.clip(jnp.round((u + 1.0) * vocab / 2 - 0.5), window, vocab - 1 - window)
        j = centre[:, None] + jnp.arange(-window, window + 1)[None, :]  # [D, 2 window + 1]
        return moments(2.0 * (j + 0.5) / vocab - 1.0)

    if not window or 2 * window + 1 >= vocab:
        return full(u)
    return jax.lax.cond(_decoder_window_ok(gamma_0, vocab, window), windowed, full, u)


@decoder_log_norm.defjvp
def _decoder_log_norm_jvp(vocab, window, primals, tangents):
    u, gamma_0 = primals
    du, dg = tangents
    lse, d_u, d_g = _decoder_moments(u, gamma_0, vocab, window)
    return lse, d_u * du + d_g * dg


def discrete_recon(k, x, gamma_0, eps0, vocab=256, window=16):
    """-log p(k | x_0) of the integer pixels k [D] (x their centres) in nats.

    The normaliser is :func:`decoder_log_norm` (exact; a window of levels around x_0 / alpha_0
    where that suffices, 7x cheaper than all ``vocab`` levels). ``window=0``: always all.
    """
    del k  # x is the centre of level k: its logit is computed in closed form (no gather)
    z0 = q_sample(x, gamma_0, eps0)
    u = z0 / alpha_sigma(gamma_0)[0]
    logit_k = -0.5 * (u - x) ** 2 * jnp.exp(-gamma_0)
    return jnp.sum(decoder_log_norm(u, gamma_0, vocab, window) - logit_k)
