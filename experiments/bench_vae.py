"""Benchmark: the VAE training step through the shared loop vs hand-written alternatives.

Model 784-400-20 (pytorch/examples), batch 128, Adam 1e-3, pathwise ELBO, dynamic
binarization. Three implementations timed side by side in one process:

1. the shared loop (``rgrad.train.make_chunk_fn`` running the VAE task, many steps per call);
2. the same model as one hand-jitted JAX step function, called once per step from Python;
3. PyTorch eager (when torch is installed: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

NAME = "vae"


def _data(n):
    # Random grey levels: the step's cost does not depend on the pixels' values.
    return np.random.default_rng(0).random((n, 784), dtype=np.float32)


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_loop(steps, n_data, repeats):
    from configs import vae as vae_config
    from experiments import vae
    from rgrad import train

    c = vae_config.get_config()
    task = vae.make_task(c, arrays=(_data(n_data), _data(128)))
    tx = task.optimizer(train.lr_schedule(c, None))
    chunk, _ = train.make_chunk_fn(task, tx, c.optim.lr)
    run = jax.jit(jax.vmap(chunk, in_axes=(0, None, None)), donate_argnums=0)
    ts = train.init_members(task, tx, c, train.members(c, task))
    data = jax.device_put({"x": _data(n_data)})
    ts, _, _ = run(ts, data, jnp.int32(steps))  # compile + warm up
    jax.block_until_ready(ts)
    state = {"ts": ts}

    def go():
        state["ts"], sums, _ = run(state["ts"], data, jnp.int32(steps))
        jax.block_until_ready(sums)

    return _median_time(go, repeats) / steps


class _VAE(nn.Module):
    @nn.compact
    def __call__(self, x, eps):
        h = nn.relu(nn.Dense(400)(x))
        mu, log_sigma = nn.Dense(20)(h), nn.Dense(20)(h)
        z = mu + jnp.exp(log_sigma) * eps
        logits = nn.Dense(784)(nn.relu(nn.Dense(400)(z)))
        rec = jnp.sum(x * logits - jnp.logaddexp(0.0, logits), -1)
        kl = 0.5 * jnp.sum(mu**2 + jnp.exp(2 * log_sigma) - 1 - 2 * log_sigma, -1)
        return jnp.mean(kl - rec)


def bench_hand(steps, n_data, repeats):
    model, tx = _VAE(), optax.adam(1e-3)
    x_all = jax.device_put(_data(n_data))
    params = model.init(jax.random.key(0), x_all[:128], jnp.zeros((128, 20)))
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, i, key):
        k1, k2 = jax.random.split(jax.random.fold_in(key, i))
        start = (i * 128) % (n_data - 128)
        x = jax.random.bernoulli(k1, jax.lax.dynamic_slice_in_dim(x_all, start, 128))
        eps = jax.random.normal(k2, (128, 20))
        loss, g = jax.value_and_grad(model.apply)(params, x.astype(jnp.float32), eps)
        updates, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    key = jax.random.key(1)
    state = {"p": params, "o": opt_state}
    jax.block_until_ready(step(params, opt_state, 0, key))

    def go():
        for i in range(steps):
            state["p"], state["o"], loss = step(state["p"], state["o"], i, key)
        jax.block_until_ready(loss)

    return _median_time(go, repeats) / steps


def bench_torch(steps, n_data, repeats):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    enc, mu_l, ls_l = torch.nn.Linear(784, 400), torch.nn.Linear(400, 20), torch.nn.Linear(400, 20)
    dec = torch.nn.Sequential(torch.nn.Linear(20, 400), torch.nn.ReLU(), torch.nn.Linear(400, 784))
    params = [*enc.parameters(), *mu_l.parameters(), *ls_l.parameters(), *dec.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    x_all = torch.from_numpy(_data(n_data))

    def step(i):
        start = (i * 128) % (n_data - 128)
        x = torch.bernoulli(x_all[start:start + 128])
        h = torch.relu(enc(x))
        mu, ls = mu_l(h), ls_l(h)
        z = mu + torch.exp(ls) * torch.randn_like(mu)
        logits = dec(z)
        rec = -torch.nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none").sum(-1)
        kl = 0.5 * (mu**2 + torch.exp(2 * ls) - 1 - 2 * ls).sum(-1)
        loss = (kl - rec).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(0)
    return _median_time(lambda: [step(i) for i in range(steps)], repeats) / steps


def run(quick: bool = False) -> str:
    steps, repeats, n_data = (20, 2, 1024) if quick else (500, 5, 60000)
    t_loop = bench_loop(steps, n_data, repeats)
    t_hand = bench_hand(steps, n_data, repeats)
    t_torch = bench_torch(steps, n_data, repeats)
    rows = [("shared loop (rgrad.train, while_loop chunk)", t_loop),
            ("hand-jitted JAX step, one call per step", t_hand),
            ("PyTorch eager", t_torch)]
    lines = [f"VAE 784-400-20, batch 128, Adam; {steps} steps per timing, median of {repeats}.",
             "", "| implementation | ms / step | relative to hand-jitted |", "|---|---|---|"]
    for name, t in rows:
        if t is None:
            lines.append(f"| {name} | not installed (`pip install -e '.[bench]'`) | - |")
        else:
            lines.append(f"| {name} | {t * 1e3:.3f} | {t / t_hand:.3f} |")
    overhead = t_loop / t_hand - 1
    lines += ["", f"Loop overhead over the hand-jitted step: {overhead * 100:+.1f}% "
              f"(target <= +5%): {'met' if overhead <= 0.05 else 'NOT met'}."]
    if t_torch is not None:
        lines.append(f"Shared loop vs PyTorch eager: {t_torch / t_loop:.2f}x faster "
                     f"(target > 1x): {'met' if t_torch > t_loop else 'NOT met'}.")
    return "\n".join(lines)
