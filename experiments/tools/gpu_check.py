"""Check rgrad on an accelerator and record its numbers: tests, steps/s, a short IWAE run.

    pip install -e '.[dev,cuda]'                       # jax[cuda12]: CUDA 12 wheels
    python -m experiments.tools.gpu_check --out=gpu_check.json
    python -m experiments.tools.gpu_check --tiny --out=/tmp/gpu_check.json   # minutes, any CPU

Runs, on JAX's default backend (the GPU when ``jax[cuda12]`` finds one):

1. the default test suite (``-m 'not slow'``) less its CPU-specific part: the tests that
   make host devices or processes on the CPU (:data:`CPU_ONLY`) and the benchmarks' tests;
2. training steps/s of the loop's compiled chunk (``experiments/bench/data_parallel.py``'s
   ``measure``, one device): the VAE (784-400-20, batch 128), the MNIST diffusion model
   (batch 128) and the VAE on the IWAE k=50 bound (784-200-200-50, batch 20);
3. a short IWAE k=50 run (``configs/vae.py:iwae_k50`` for ``--iwae_steps`` steps) with its
   final test bounds and wall time.

Writes every number to ``--out`` (JSON) and prints a Markdown summary for BENCHMARKS.md.
``--tiny`` runs one small test file, quick configs and a few steps: the check of the script
itself (the tests run it so on the CPU).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Tests that build CPU host devices or several CPU processes (not the accelerator's job), and
# the benchmarks' tests (CPU timings, PyTorch peers).
CPU_ONLY = ("tests/test_mesh.py", "tests/test_distributed.py",
            "tests/test_train.py::test_seeds_sharded_over_host_devices",
            "tests/test_bench.py", "tests/test_bench_estimators.py")
FULL = {"tests": ["tests"],
        "rates": {"vae": ("configs/vae.py", {}, 200),
                  "diffusion": ("configs/diffusion.py:mnist", {}, 20),
                  "iwae_k50": ("configs/vae.py:iwae_k50", {}, 200)},
        "iwae": {"num_epochs": 0, "num_steps": 3000, "log_every": 1000, "eval_every": 3000,
                 "checkpoint_every": 3000, "eval.num_examples": 1000,
                 "eval.final_num_examples": 1000, "artifacts": False}}
TINY = {"tests": ["tests/test_shuffle.py"],
        "rates": {"vae": ("configs/vae.py:quick", {}, 5),
                  "diffusion": ("configs/diffusion.py:mnist_quick", {}, 2),
                  "iwae_k50": ("configs/vae.py:iwae_k50", {"data.max_train": 256}, 2)},
        "iwae": {"num_epochs": 0, "num_steps": 10, "log_every": 10, "eval_every": 10,
                 "checkpoint_every": 10, "data.max_train": 256, "eval.num_samples": 50,
                 "eval.final_num_samples": 50, "eval.num_examples": 20,
                 "eval.final_num_examples": 20, "artifacts": False}}


def run_tests(paths: list[str]) -> dict:
    """The pytest run: counts of passed/failed/... and the failed tests' ids."""
    deselect = [a for p in CPU_ONLY for a in ("--deselect", p)]
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rf", "-m", "not slow",
                        "-p", "no:cacheprovider", *deselect, *paths],
                       cwd=ROOT, capture_output=True, text=True, check=False)
    tail = r.stdout.strip().splitlines()[-1:] or [""]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|errors?|skipped)",
                                                tail[0])}
    return {"counts": counts, "returncode": r.returncode, "summary": tail[0],
            "failed": re.findall(r"^FAILED (\S+)", r.stdout, re.M),
            "wall_s": round(time.perf_counter() - t0, 1)}


def iwae_run(overrides: dict) -> dict:
    """A short IWAE k=50 training run: its final metrics, steps and wall time."""
    from experiments import run

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        r = run.run("configs/vae.py:iwae_k50", overrides, workdir=d)
        wall = time.perf_counter() - t0
    return {"steps": r.config.num_steps, "wall_s": round(wall, 1), "metrics": r.metrics[0]}


def check(tiny: bool, skip_tests: bool) -> dict:
    import jax

    from experiments.bench import data_parallel

    plan = TINY if tiny else FULL
    devices = jax.devices()
    out = {"backend": jax.default_backend(), "devices": [str(d) for d in devices],
           "device_kind": devices[0].device_kind, "jax": jax.__version__, "tiny": tiny}
    print(f"[gpu_check] {out['backend']}: {out['device_kind']} x {len(devices)}", flush=True)
    if not skip_tests:
        out["tests"] = run_tests(plan["tests"])
        print(f"[gpu_check] tests: {out['tests']['summary']}", flush=True)
    out["steps_per_sec"] = {}
    for name, (ref, overrides, steps) in plan["rates"].items():
        rate = data_parallel.measure(ref, overrides, (1,), steps, repeats=3)[1]
        out["steps_per_sec"][name] = round(rate, 2)
        print(f"[gpu_check] {name}: {rate:.1f} steps/s", flush=True)
    out["iwae_k50_run"] = iwae_run(plan["iwae"])
    print(f"[gpu_check] iwae k=50 run: {out['iwae_k50_run']}", flush=True)
    return out


def markdown(out: dict) -> str:
    rates = out["steps_per_sec"]
    run = out["iwae_k50_run"]
    lines = [f"{out['device_kind']} ({out['backend']}, jax {out['jax']}"
             f"{', tiny mode' if out['tiny'] else ''}):", "",
             "| VAE steps/s | diffusion (MNIST) steps/s | IWAE k=50 steps/s |", "|---|---|---|",
             f"| {rates['vae']:.1f} | {rates['diffusion']:.1f} | {rates['iwae_k50']:.1f} |", "",
             f"IWAE k=50, {run['steps']} steps in {run['wall_s']} s: "
             + ", ".join(f"{k} {v:.2f}" for k, v in run["metrics"].items())]
    if "tests" in out:
        lines.append(f"Tests ({', '.join(out['tests'].get('failed', [])) or 'none failed'}): "
                     f"{out['tests']['summary']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="gpu_check.json", help="JSON file for the numbers.")
    p.add_argument("--tiny", action="store_true", help="A few steps of quick configs.")
    p.add_argument("--skip_tests", action="store_true", help="Only the timings and the run.")
    args = p.parse_args(argv)
    out = check(args.tiny, args.skip_tests)
    pathlib.Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(markdown(out))
    failed = out.get("tests", {}).get("returncode", 0) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
