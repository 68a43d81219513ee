"""Why the MNIST denoiser is preconditioned and has a per-pixel path: eps-MSE by noise level.

Each variant of :class:`experiments.tasks.diffusion.Denoiser` (residual MLP 2x512) is trained with
DDPM's eps-MSE, gamma ~ U(gamma_min, gamma_max) of DDPM's endpoints, batch 128, Adam 1e-3, on
MNIST's 8-bit pixels (the data the ``:mnist`` config diffuses). Reported: the per-pixel
eps-MSE on 512 test digits at fixed noise levels (1 = predicting 0; the mean-image denoiser
eps_hat = (z - alpha xbar) / sigma is given for reference) and the training steps per second
of each variant, measured side by side in this run.

    python -m experiments.bench --only=diffusion_denoiser [--quick]
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rgrad import data as rdata
from rgrad import diffusion as dm
from rgrad.denoisers import Denoiser

NAME = "diffusion_denoiser"
GAMMAS = (-9.0, -6.0, -2.0, 0.0, 2.0, 9.0)


def _centres(x01):
    return jax.vmap(dm.encode_bytes)(jnp.asarray(x01))[1]


def _train(net, train_x, steps, batch=128, lr=1e-3, seed=0):
    params = net.init(jax.random.key(seed), jnp.zeros((784,)), jnp.zeros(()))
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr))
    opt = tx.init(params)

    def loss(p, x, key):
        kg, ke = jax.random.split(key)
        xc = _centres(x)
        g = jax.random.uniform(kg, (x.shape[0],), minval=dm.DDPM_GAMMA_MIN,
                               maxval=dm.DDPM_GAMMA_MAX)
        eps = jax.random.normal(ke, xc.shape)
        a, s = dm.alpha_sigma(g[:, None])
        eps_hat = jax.vmap(net.apply, in_axes=(None, 0, 0))(p, a * xc + s * eps, g)
        return jnp.mean((eps_hat - eps) ** 2)

    @jax.jit
    def step(p, o, x, key):
        grads = jax.grad(loss)(p, x, key)
        updates, o = tx.update(grads, o, p)
        return optax.apply_updates(p, updates), o

    rng = np.random.default_rng(seed)
    params, opt = step(params, opt, jnp.asarray(train_x[:batch]), jax.random.key(0))  # compile
    jax.block_until_ready(params)
    t0 = time.perf_counter()
    for i in range(steps):
        x = jnp.asarray(train_x[rng.integers(0, len(train_x), batch)])
        params, opt = step(params, opt, x, jax.random.key(i + 1))
    jax.block_until_ready(params)
    return params, steps / (time.perf_counter() - t0)


def _mse_by_gamma(eps_fn, xc, key):
    eps = jax.random.normal(key, xc.shape)

    @jax.jit
    def at(g):
        a, s = dm.alpha_sigma(g)
        return jnp.mean((eps_fn(a * xc + s * eps, g) - eps) ** 2)

    return [float(at(jnp.float32(g))) for g in GAMMAS]


def run(quick: bool = False) -> str:
    steps = 100 if quick else 600
    train_x = rdata.load("mnist", "train").images
    test_x = rdata.load("mnist", "test").images
    test_c = _centres(test_x[np.random.default_rng(0).permutation(len(test_x))[:512]])
    rms = float(jnp.sqrt(jnp.mean(_centres(train_x[:10000]) ** 2)))
    xbar = jnp.mean(_centres(train_x), 0)
    key = jax.random.key(123)

    def mean_image(z, g):
        a, s = dm.alpha_sigma(g)
        return (z - a * xbar) / s

    rows = [("mean image (no training)", _mse_by_gamma(mean_image, test_c, key), None)]
    variants = [("plain MLP, eps_hat = F(z)", {}),
                ("preconditioned (c_skip, c_out, c_in)", {"data_rms": rms}),
                ("preconditioned + per-pixel path (32) [`:mnist`]",
                 {"data_rms": rms, "pixel_hidden": 32})]
    for name, kw in variants:
        net = Denoiser(512, 2, 784, **kw)
        params, rate = _train(net, train_x, steps)
        eps_fn = jax.vmap(lambda z, g, p=params, net=net: net.apply(p, z, g), in_axes=(0, None))
        rows.append((name, _mse_by_gamma(eps_fn, test_c, key), rate))
    base_rate = rows[1][2]
    head = "| denoiser | " + " | ".join(f"gamma={g:g}" for g in GAMMAS) + " | steps/s (ratio) |"
    lines = [f"eps-MSE per pixel after {steps} steps (512 random test digits, one eps draw; "
             f"data rms {rms:.3f}):", "", head, "|---" * (len(GAMMAS) + 2) + "|"]
    for name, mse, rate in rows:
        speed = "-" if rate is None else f"{rate:.1f} ({rate / base_rate:.2f})"
        lines.append(f"| {name} | " + " | ".join(f"{m:.4f}" for m in mse) + f" | {speed} |")
    return "\n".join(lines)
