"""Benchmark: the VAE training step through the shared loop vs hand-written alternatives.

Model 784-400-20 (pytorch/examples), batch 128, Adam 1e-3, pathwise ELBO, dynamic
binarization. Implementations timed side by side in one process:

1. the shared loop (``rgrad.train`` running the VAE task: one compiled ``while_loop`` chunk of
   many steps per host call, vmapped over the run's members, here one);
2. the VAE task's own loss and minibatching in a hand-jitted step, one Python call per step
   (isolates what the loop adds);
3. the same model written by hand as one jitted JAX step function, one call per step;
4. PyTorch eager (when torch is installed: ``pip install -e '.[bench]'``).

The machines are shared and noisy, so the implementations are timed in interleaved rounds
(1, 2, 3, 4, 1, 2, ...) and each reports its median over the rounds.
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


def _interleaved_medians(gos: dict, repeats: int) -> tuple[dict, dict]:
    """Median wall and CPU (process) time of each ``go()``, in interleaved rounds.

    CPU time counts every thread of this process and is far less sensitive than wall time to
    other jobs on a shared machine.
    """
    wall, cpu = {name: [] for name in gos}, {name: [] for name in gos}
    for go in gos.values():
        go()  # compile and warm up
    for _ in range(repeats):
        for name, go in gos.items():
            t0, c0 = time.perf_counter(), time.process_time()
            go()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    med = lambda d: {name: float(np.median(t)) for name, t in d.items()}
    return med(wall), med(cpu)


def _vae_task(n_data):
    from configs import vae as vae_config
    from experiments.tasks import vae
    from rgrad import train

    c = vae_config.get_config()
    task = vae.make_task(c, arrays=(_data(n_data), _data(128)))
    tx = task.optimizer(task.schedule(n_data // c.batch_size, c.num_steps))
    ts = train.init_members(task, tx, c, train.members(c, task))
    return c, task, tx, ts, jax.device_put({"x": _data(n_data)})


def bench_loop(steps, n_data):
    """The shared loop's compiled chunk, exactly as ``train_and_evaluate`` runs it."""
    from rgrad import train

    c, task, tx, ts, data = _vae_task(n_data)
    run = train.compile_chunk(task, tx, None)[0]  # as train_and_evaluate: lr not swept
    state = {"ts": ts}

    def go():
        state["ts"], sums, _ = run(state["ts"], data, jnp.int32(steps))
        jax.block_until_ready(sums)

    return go


def bench_task_step(steps, n_data):
    """The VAE task's batch + loss + Adam in a hand-jitted step, one call per step."""
    from rgrad import train

    _, task, tx, ts, data = _vae_task(n_data)
    ts = train.member_slice(ts, 0)

    @jax.jit
    def step(params, opt_state, i, key_data):
        loop_key, data_key = jax.random.split(jax.random.wrap_key_data(key_data))
        batch, _ = task.batch(data, {}, params, key=data_key, step=i)
        (loss, _), g = jax.value_and_grad(task.loss, has_aux=True)(
            params, {}, batch, key=jax.random.fold_in(loop_key, i), step=i,
            hparams=task.hparams())
        updates, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    state = {"p": ts.params, "o": ts.opt_state}

    def go():
        for i in range(steps):
            state["p"], state["o"], loss = step(state["p"], state["o"], i, ts.key)
        jax.block_until_ready(loss)

    return go


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


def bench_hand(steps, n_data):
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

    def go():
        for i in range(steps):
            state["p"], state["o"], loss = step(state["p"], state["o"], i, key)
        jax.block_until_ready(loss)

    return go


def bench_torch(steps, n_data):
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

    def go():
        for i in range(steps):
            step(i)

    return go


def run(quick: bool = False) -> str:
    steps, repeats, n_data = (20, 2, 1024) if quick else (200, 9, 60000)
    names = {"loop": "shared loop (rgrad.train, while_loop chunk)",
             "task": "VAE task's loss, hand-jitted step, one call per step",
             "hand": "hand-written model, hand-jitted step, one call per step",
             "torch": "PyTorch eager"}
    gos = {"loop": bench_loop(steps, n_data), "task": bench_task_step(steps, n_data),
           "hand": bench_hand(steps, n_data)}
    torch_go = bench_torch(steps, n_data)
    if torch_go is not None:
        gos["torch"] = torch_go
    wall, cpu = _interleaved_medians(gos, repeats)
    t = {k: v / steps for k, v in wall.items()}
    c = {k: v / steps for k, v in cpu.items()}
    lines = [f"VAE 784-400-20, batch 128, Adam; {steps} steps per timing, median of {repeats} "
             "interleaved rounds (CPU time: all threads of the process).", "",
             "| implementation | wall ms / step | relative (wall) | CPU ms / step "
             "| relative (CPU) |",
             "|---|---|---|---|---|"]
    for key, name in names.items():
        if key not in t:
            lines.append(f"| {name} | not installed (`pip install -e '.[bench]'`) | - | - | - |")
        else:
            lines.append(f"| {name} | {t[key] * 1e3:.3f} | {t[key] / t['hand']:.3f} | "
                         f"{c[key] * 1e3:.3f} | {c[key] / c['hand']:.3f} |")
    overhead = t["loop"] / t["hand"] - 1
    lines += ["", f"Loop overhead over the hand-written jitted step (wall): {overhead * 100:+.1f}% "
              f"(target <= +5%): {'met' if overhead <= 0.05 else 'NOT met'}; in CPU time "
              f"{(c['loop'] / c['hand'] - 1) * 100:+.1f}%. Over the task's own loss in a "
              f"hand-jitted step: {(t['loop'] / t['task'] - 1) * 100:+.1f}% (wall)."]
    if "torch" in t:
        lines.append(f"Shared loop vs PyTorch eager: {t['torch'] / t['loop']:.2f}x faster "
                     f"(target > 1x): {'met' if t['torch'] > t['loop'] else 'NOT met'}.")
    return "\n".join(lines)
