"""Benchmark: the VAE training step, rgrad against hand-written JAX and PyTorch.

Model 784-400-20 (pytorch/examples), batch 128, Adam 1e-3, pathwise ELBO, dynamic
binarization. Each implementation runs in its own process (:mod:`experiments.bench._procs`),
interleaved over rounds, so no two thread pools contend:

1. the shared loop (``rgrad.train`` running the VAE task: one compiled ``while_loop`` chunk of
   many steps per host call, vmapped over the run's members, here one);
2. the VAE task's own loss and minibatching in a hand-jitted step, one Python call per step
   (isolates what the loop adds; full mode only);
3. the same model written by hand as one jitted JAX step function, one call per step;
4. PyTorch eager and 5. ``torch.compile`` (the peers' virtualenv, ``make bench-env``).

Achieved GFLOP/s count the step's matmul FLOPs (forward and backward) against the float32
matmul peak measured in the same rounds (JAX and PyTorch each, the larger taken).
"""

from __future__ import annotations

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

NAME = "vae"


def _data(n):
    # Random grey levels: the step's cost does not depend on the pixels' values.
    return np.random.default_rng(0).random((n, 784), dtype=np.float32)


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


# Multiply-adds per example of the step's matmuls: forward, weight gradients, and input
# gradients of every layer but the first (its input is data).
_LAYERS = ((784, 400), (400, 20), (400, 20), (20, 400), (400, 784))
STEP_FLOPS = 2 * 128 * (2 * sum(a * b for a, b in _LAYERS)
                        + sum(a * b for a, b in _LAYERS[1:]))


def run(quick: bool = False) -> str:
    from experiments.bench import _procs as P

    steps, repeats, n_data, rounds = (20, 3, 1024, 2) if quick else (200, 5, 60000, 3)
    main, peer = P.main_python(), P.peer_python()
    jax_args = {"steps": steps, "repeats": repeats, "n_data": n_data}
    sides = {"loop": (main, "vae_jax", {"impl": "loop", **jax_args}),
             "hand": (main, "vae_jax", {"impl": "hand", **jax_args})}
    if not quick:
        sides["task"] = (main, "vae_jax", {"impl": "task", **jax_args})
    # The matmul peak: two rounds suffice (one in --quick).
    sides["matmul_jax"] = (main, "matmul_jax", {"n": 1024, "repeats": 10}, 1 if quick else 2)
    if peer:
        sides["torch"] = (peer, "torch_vae", {"compile": False, **jax_args})
        sides["compile"] = (peer, "torch_vae", {"compile": True, **jax_args}, 1 if quick else 2)
        sides["matmul_torch"] = (peer, "torch_matmul", {"n": 1024, "repeats": 10},
                                 1 if quick else 2)
    res = P.interleaved(sides, rounds)
    peak = max(P.median(res[k], "gflops") for k in ("matmul_jax", "matmul_torch") if k in res)
    names = {"loop": "rgrad shared loop (while_loop chunk)",
             "task": "VAE task's loss, hand-jitted step, one call per step",
             "hand": "hand-written JAX model, jitted step, one call per step",
             "torch": "PyTorch eager", "compile": "torch.compile"}
    lines = [f"VAE 784-400-20, batch 128, Adam. Each row: its own process per round, "
             f"{len(res['loop'])} interleaved rounds, each the median of {repeats} timings of "
             f"{steps} steps after a warm-up; `median (min-max)` over rounds. Load average "
             f"(1 min) at the measurements' starts: {P.loads(res)} on {os.cpu_count()} cores.",
             "", "| implementation | ms / step | steps / s | ratio to hand JAX (per round) "
             "| first call s (compile) | GFLOP/s | % of matmul peak | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|"]
    for key, name in names.items():
        if key not in res:
            lines.append(f"| {name} | {P.PEER_HINT if key in ('torch', 'compile') else '-'} "
                         "| - | - | - | - | - | - |")
            continue
        r, ms = res[key], P.median(res[key], "step_ms")
        gf = STEP_FLOPS / (ms * 1e-3) / 1e9
        lines.append(f"| {name} | {P.spread(r, 'step_ms')} | {1e3 / ms:.0f} | "
                     f"{P.ratio(r, res['hand'], 'step_ms')} | {P.spread(r, 'first_s')} | "
                     f"{gf:.1f} | {100 * gf / peak:.0f}% | {P.rss(r)} |")
    mm = [f"{k[7:]} {P.spread(res[k], 'gflops')}" for k in ("matmul_jax", "matmul_torch")
          if k in res]
    lines += ["", f"Matmul peak (float32 1024x1024, GFLOP/s): {'; '.join(mm)}. Step FLOPs "
              f"(matmuls, forward + backward): {STEP_FLOPS / 1e6:.0f} M."]
    if "torch" in res:
        lt = P.ratio(res["torch"], res["loop"], "step_ms")
        lines.append(f"PyTorch eager time / rgrad loop time, per round: {lt}.")
    if "compile" in res:
        faster = P.median(res["compile"], "step_ms") < P.median(res["torch"], "step_ms")
        lines.append(f"torch.compile vs eager, per round: "
                     f"{P.ratio(res['compile'], res['torch'], 'step_ms')} "
                     f"({'faster' if faster else 'slower'} than eager on this CPU), after "
                     f"{P.spread(res['compile'], 'first_s')} s of compilation.")
    return "\n".join(lines)
