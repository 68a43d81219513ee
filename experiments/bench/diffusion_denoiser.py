"""Why the MNIST denoiser is preconditioned and has a per-pixel path: eps-MSE by noise level.

Each variant of :class:`rgrad.denoisers.Denoiser` (residual MLP 2x512) is trained by the shared
loop on ``configs/diffusion.py:denoiser``: DDPM's eps-MSE per pixel (``objective=eps_mse``),
gamma ~ U(gamma_min, gamma_max) of DDPM's endpoints (stratified over the batch), batch 128,
Adam 1e-3, on MNIST's 8-bit pixels (the data the ``:mnist`` config diffuses). Reported: the
run's final per-pixel eps-MSE on 512 test digits at fixed noise levels (``eval.gammas``; 1 =
predicting 0; the mean-image denoiser eps_hat = (z - alpha xbar) / sigma is given for
reference, through the same task method), and the training steps per second of each variant:
its compiled chunk timed as the loop runs it, from the trained state, side by side in this run.

    python -m experiments.bench --only=diffusion_denoiser [--quick]
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from experiments import run as run_api
from rgrad import diffusion as dm
from rgrad import train

NAME = "diffusion_denoiser"
VARIANTS = (("plain MLP, eps_hat = F(z)", {"model.precondition": False}),
            ("preconditioned (c_skip, c_out, c_in)", {"model.precondition": True}),
            ("preconditioned + per-pixel path (32) [`:mnist`]",
             {"model.precondition": True, "model.pixel_hidden": 32}))


def steps_per_sec(r: run_api.Run, steps: int) -> float:
    """Training steps/s of the run's compiled chunk (as ``train_and_evaluate`` compiles it),
    continuing from its final state; the first call (compiling) is not timed."""
    task, c = r.task, r.config
    tx = task.optimizer(task.schedule(None, c.num_steps))
    chunk = train.compile_chunk(task, tx, None)[0]
    data = jax.device_put(task.dataset())
    ts, sums, _ = chunk(r.output["train_state"], data, jnp.int32(1))
    jax.block_until_ready(sums)
    t0 = time.perf_counter()
    ts, sums, _ = chunk(ts, data, jnp.int32(steps))
    jax.block_until_ready(sums)
    return steps / (time.perf_counter() - t0)


def run(quick: bool = False) -> str:
    steps = 100 if quick else 600
    budget = {"num_steps": steps, "log_every": steps // 5, "eval_every": steps,
              "checkpoint_every": steps}
    rows, gammas = [], None
    for name, overrides in VARIANTS:
        r = run_api.run("configs/diffusion.py:denoiser", {**budget, **overrides})
        gammas = r.config.eval.gammas
        rows.append((name, [r.metrics[0][f"eps_mse_gamma{g:g}"] for g in gammas],
                     steps_per_sec(r, steps // 2)))
    task = r.task
    xbar = jnp.mean(jax.vmap(task.encode)(jnp.asarray(task.train_x))[1], 0)  # [784]

    def mean_image(z, g):
        a, s = dm.alpha_sigma(g)
        return (z - a * xbar) / s

    ref = jax.jit(lambda k: task.fixed_gamma_mse(mean_image, k))(jax.random.key(123))
    rows.insert(0, ("mean image (no training)", [float(ref[f"eps_mse_gamma{g:g}"])
                                                 for g in gammas], None))
    base_rate = rows[1][2]
    head = "| denoiser | " + " | ".join(f"gamma={g:g}" for g in gammas) + " | steps/s (ratio) |"
    lines = [f"eps-MSE per pixel after {steps} steps (512 random test digits, one eps draw; "
             f"data rms {task.denoiser.data_rms:.3f}):", "", head,
             "|---" * (len(gammas) + 2) + "|"]
    for name, mse, rate in rows:
        speed = "-" if rate is None else f"{rate:.1f} ({rate / base_rate:.2f})"
        lines.append(f"| {name} | " + " | ".join(f"{m:.4f}" for m in mse) + f" | {speed} |")
    return "\n".join(lines)
