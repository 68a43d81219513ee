"""One measurement in its own process: ``python -m experiments.bench._worker KIND JSON``.

Prints one JSON line: the measurement's figures plus ``rss_mb``, this process's peak resident
memory (``ru_maxrss``). Kinds that need the project (``rgrad``) run under its interpreter;
``torch_*``, ``sb3`` and ``mc`` with ``lib=optax`` run under the peers' virtualenv, which has
no ``rgrad`` (the modules they import here import neither ``rgrad`` nor the project's jax).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def timed(go, steps: int, repeats: int) -> tuple[float, float, list[float]]:
    """(first call s, median s per step, per-repeat s per step) of ``go()`` running
    ``steps`` steps: the first call (compilation, warm-up) is timed apart."""
    t0 = time.perf_counter()
    go()
    first = time.perf_counter() - t0
    per = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        go()
        per.append((time.perf_counter() - t0) / steps)
    return first, sorted(per)[len(per) // 2], per


def vae_jax(impl: str, steps: int, repeats: int, n_data: int) -> dict:
    from experiments.bench import vae

    go = {"loop": vae.bench_loop, "task": vae.bench_task_step, "hand": vae.bench_hand}[impl](
        steps, n_data)
    first, step_s, _ = timed(go, steps, repeats)
    return {"step_ms": step_s * 1e3, "first_s": first}


def matmul_jax(n: int, repeats: int) -> dict:
    import jax

    a = jax.random.normal(jax.random.key(0), (n, n))
    f = jax.jit(lambda x: x @ x)
    _, s, _ = timed(lambda: f(a).block_until_ready(), 1, repeats)
    return {"gflops": 2 * n**3 / s / 1e9}


def mc(**args) -> dict:
    from experiments.bench import _mc

    return _mc.measure(**args)


def train(config: str, overrides: dict) -> dict:
    """One run of the shared loop (wall time including compilation, final metrics)."""
    from experiments import run
    from rgrad import metrics_io

    # Record the loop's steps/s of each log window (the first one includes compilation).
    rates, write_train = [], metrics_io.MetricWriter.write_train

    def record(self, step, metrics, member_list=None, steps_per_sec=float("nan")):
        rates.append(float(steps_per_sec))
        return write_train(self, step, metrics, member_list, steps_per_sec)

    metrics_io.MetricWriter.write_train = record
    t0 = time.perf_counter()
    r = run.run(config, overrides)  # in a temporary workdir
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "members": len(r.metrics), "window_steps_per_s": rates,
            "metrics": {k: float(v) for k, v in r.metrics[0].items()},
            "member_metrics": [{k: float(v) for k, v in m.items()} for m in r.metrics],
            "num_steps": int(r.config.num_steps)}


def _dispatch(kind: str, args: dict) -> dict:
    if kind.startswith("torch_"):
        from experiments.bench import _torch_peers

        return getattr(_torch_peers, kind[len("torch_"):])(**args)
    if kind.startswith("ode_"):
        from experiments.bench import ode_inference

        return getattr(ode_inference, "measure_" + kind[len("ode_"):])(**args)
    if kind.startswith("sac_"):
        from experiments.bench import sac

        return getattr(sac, "measure_" + kind[len("sac_"):])(**args)
    return {"vae_jax": vae_jax, "matmul_jax": matmul_jax, "mc": mc, "train": train}[kind](
        **args)


def main(argv: list[str]) -> int:
    # Pinned (the parent checked RGRAD_BENCH_CPUS) before any import starts a thread pool:
    # numpy's BLAS, jax and torch size theirs to these cores.
    cpus = {int(c) for c in os.environ.get("RGRAD_BENCH_CPUS", "").split(",") if c.strip()}
    if cpus:
        os.sched_setaffinity(0, cpus)
    kind, args = argv[0], json.loads(argv[1])
    result = _dispatch(kind, args)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result["cpus"] = len(os.sched_getaffinity(0))  # cores it may run on
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
