"""Benchmark: training steps/s with the batch split over 1, 2 and 4 devices (``mesh.data``).

    python -m experiments.bench --only=data_parallel [--quick]
    python -m experiments.bench.data_parallel --quick      # the table alone

Each model's compiled training chunk (exactly the loop's: ``rgrad.train.compile_chunk`` of the
task wrapped by ``rgrad.mesh.data_parallel``) runs one member on a ``(members=1, data=D)``
mesh, D = 1, 2, 4, in a process with 4 devices: on a CPU machine, 4 host devices
(``--xla_force_host_platform_device_count=4``), which share its cores, so the split shows the
overhead of the collectives rather than a speed-up; on a machine with 4 accelerators, the
real thing. The D are timed in interleaved rounds and each reports its median.

Models: the VAE (``configs/vae.py``, 784-400-20, batch 128) and the MNIST diffusion model
(``configs/diffusion.py:mnist``, batch 128, per-pixel denoiser).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

NAME = "data_parallel"
MODELS = {"vae": ("configs/vae.py", {}),
          "diffusion": ("configs/diffusion.py:mnist", {})}
DEVICES = (1, 2, 4)


def measure(config_ref: str, overrides: dict, devices: tuple[int, ...], steps: int,
            repeats: int) -> dict[int, float]:
    """Median steps/s of the loop's chunk of ``steps`` steps on ``(1, d)`` meshes, d in
    ``devices`` (in this process, which must have at least ``max(devices)`` devices)."""
    import jax
    import jax.numpy as jnp

    from experiments import registry, run
    from rgrad import distributed, mesh, schedules, train

    gos = {}
    for d in devices:
        config = run.resolve(config_ref, {**overrides, "mesh.members": 1, "mesh.data": d})
        task = registry.make_task(config)
        grid = mesh.make_mesh(config)
        layout = mesh.Layout(grid, 1)
        data = task.dataset()
        spe = None if data is None else len(jax.tree.leaves(data)[0]) // config.batch_size
        if data is not None:
            data = distributed.global_array(data, layout.replicated)
        tx = task.optimizer(task.schedule(spe, schedules.total_steps(config, spe)))
        ts = train.init_members(task, tx, config, train.members(config, task),
                                sharding=layout.stored)
        chunk = train.compile_chunk(mesh.data_parallel(task, grid), tx, None)[0]
        state = {"ts": layout.pad(ts)}

        def go(chunk=chunk, state=state, data=data):
            state["ts"], sums, _ = chunk(state["ts"], data, jnp.int32(steps))
            jax.block_until_ready(sums)

        go()  # compile and warm up
        gos[d] = go
    times = {d: [] for d in devices}
    for _ in range(repeats):
        for d, go in gos.items():
            t0 = time.perf_counter()
            go()
            times[d].append(time.perf_counter() - t0)
    return {d: steps / float(np.median(t)) for d, t in times.items()}


def _in_subprocess(model: str, steps: int, repeats: int) -> dict[int, float]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "")
                        + " --xla_force_host_platform_device_count=4").strip()
    code = ("import json, sys; from experiments.bench import data_parallel as b; "
            "ref, ov = b.MODELS[sys.argv[1]]; "
            "print('RESULT', json.dumps(b.measure(ref, ov, b.DEVICES, int(sys.argv[2]), "
            "int(sys.argv[3]))))")
    r = subprocess.run([sys.executable, "-c", code, model, str(steps), str(repeats)],
                       env=env, capture_output=True, text=True, check=False)
    if r.returncode:
        raise RuntimeError(f"data_parallel bench of {model} failed: {r.stderr[-2000:]}")
    out = json.loads(r.stdout.split("RESULT", 1)[1])
    return {int(k): v for k, v in out.items()}


def run(quick: bool = False) -> str:
    """The Markdown section: steps/s per model on 1, 2, 4 devices."""
    steps = {"vae": 20 if quick else 200, "diffusion": 2 if quick else 10}
    repeats = 2 if quick else 5
    lines = ["| model | " + " | ".join(f"{d} device{'s' * (d > 1)} (steps/s)" for d in DEVICES)
             + " | 4 vs 1 |", "|---|" + "---|" * (len(DEVICES) + 1)]
    for model in MODELS:
        rate = _in_subprocess(model, steps[model], repeats)
        lines.append(f"| {model} | " + " | ".join(f"{rate[d]:.1f}" for d in DEVICES)
                     + f" | {rate[4] / rate[1]:.2f}x |")
    return ("Data-parallel training steps/s (`--config.mesh.data=D`, one member, the batch "
            f"split over D devices; medians of {repeats} interleaved rounds of "
            f"{steps['vae']} VAE / {steps['diffusion']} diffusion steps):\n\n"
            + "\n".join(lines) + "\n")


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
