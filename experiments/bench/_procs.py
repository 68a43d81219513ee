"""Each side of a comparison in its own process, interleaved A B A B, ratios per pair.

A measurement is one child process: ``python -m experiments.bench._worker KIND JSON`` run
by a chosen interpreter (the project's, or the peers' virtualenv ``.venv-bench``); it prints
one JSON line of results, to which the parent adds the child's peak RSS (``ru_maxrss`` from
``os.wait4``), its wall time and the machine's 1-minute load average at its start. Sides never
overlap in time, and each process's thread pools are its own, so neither side can slow the
other; what other jobs on the machine do shows in the recorded load.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
BENCH_VENV = ROOT / ".venv-bench"
PEER_HINT = "peers not installed: `make bench-env` builds .venv-bench"


def peer_python(module: str = "torch") -> str | None:
    """An interpreter that imports the peer ``module``: the peers' virtualenv's, else this
    one's (the ``bench`` extra installed here), else None (the rows then say how to install)."""
    exe = BENCH_VENV / "bin" / "python"
    for python in ([str(exe)] if exe.exists() else []) + [sys.executable]:
        if has_module(python, module):
            return python
    return None


def has_module(python: str, module: str) -> bool:
    """Whether ``python`` can import ``module`` (checked in a child process)."""
    r = subprocess.run([python, "-c", f"import {module}"], capture_output=True, cwd=ROOT)
    return r.returncode == 0


def pinned_cpus() -> set[int]:
    """Cores every child is pinned to, from ``RGRAD_BENCH_CPUS`` (``0`` or ``0,1``; the
    driver's ``--cpus``); empty: no pinning. On a machine other jobs load, pinning each side
    to the same cores with as many threads keeps busy-waiting thread pools (OpenMP's) from
    being starved of their cores differently on the two sides."""
    spec = os.environ.get("RGRAD_BENCH_CPUS", "")
    try:
        return {int(c) for c in spec.split(",") if c.strip()}
    except ValueError:
        raise ValueError(f"RGRAD_BENCH_CPUS={spec!r}: give core numbers like 0 or 0,1.") from None


class TimedOut(RuntimeError):
    """A child stopped at its time limit; ``peak_mb`` is its peak RSS until then."""

    def __init__(self, message: str, peak_mb: float):
        super().__init__(message)
        self.peak_mb = peak_mb


def _peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, MB; NaN if unreadable."""
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return float("nan")


def load() -> float:
    """The machine's 1-minute load average."""
    return os.getloadavg()[0]


def measure(python: str, kind: str, args: dict, timeout: float = 1800.0,
            cpus: str | None = None) -> dict:
    """Run one worker measurement in a child process; its JSON result plus ``rss_mb``
    (peak resident memory of the child), ``proc_s`` (its wall time) and ``load``.

    ``cpus`` ("0", "1", "0,1"; "" for none) pins this child to its own cores instead of the
    driver's ``--cpus``: for measurements that compare nothing and may run side by side.

    Raises:
        RuntimeError: the child failed (its last lines of stderr are in the message).
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    env.pop("XLA_FLAGS", None)  # the test suite's -O0 must not leak into a benchmark
    if cpus is not None:  # this child's own cores (measurements that compare nothing)
        env["RGRAD_BENCH_CPUS"] = cpus
    cpus = pinned_cpus() if cpus is None else {int(c) for c in cpus.split(",") if c.strip()}
    if cpus:  # every side gets the same cores and as many threads (OpenMP, XLA's pool)
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(len(cpus))
    start_load, t0 = load(), time.perf_counter()
    cmd = [python, "-m", "experiments.bench._worker", kind, json.dumps(args)]
    # The child pins itself (RGRAD_BENCH_CPUS, inherited) before it starts any thread.
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        peak = _peak_rss_mb(proc.pid)  # the child's peak so far, read before it is stopped
        proc.kill()
        proc.communicate()
        raise TimedOut(f"{kind} {args} ran past {timeout:.0f} s", peak) from None
    # communicate() reaped the child; its rusage went to RUSAGE_CHILDREN, which only keeps a
    # maximum, so the child reports its own peak (ru_maxrss of RUSAGE_SELF) in its JSON.
    if proc.returncode != 0:
        tail = "\n".join(err.strip().splitlines()[-8:])
        raise RuntimeError(f"{kind} {args} failed (exit {proc.returncode}):\n{tail}")
    result = json.loads(out.strip().splitlines()[-1])
    result.update(proc_s=time.perf_counter() - t0, load=start_load)
    return result


def interleaved(sides: dict[str, tuple], rounds: int, log=print) -> dict[str, list[dict]]:
    """``{name: (python, kind, args[, max_rounds])}`` measured in ``rounds`` rounds of
    A B C ..., one process each; the side order alternates between rounds (A B, B A, ...) so
    that neither side always runs first. A side with ``max_rounds`` joins only the first
    ``max_rounds`` rounds (an expensive one). Returns ``{name: [result per round]}``."""
    results = {name: [] for name in sides}
    names = list(sides)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            python, kind, args, *limit = sides[name]
            if limit and r >= limit[0]:
                continue
            results[name].append(measure(python, kind, args))
            log(f"[bench]   round {r + 1}/{rounds} {name}: "
                f"{_brief(results[name][-1])}", flush=True)
    return results


def _brief(result: dict) -> str:
    keys = [k for k, v in result.items() if isinstance(v, float) and k != "load"][:4]
    return ", ".join(f"{k}={result[k]:.4g}" for k in keys) + f", load={result['load']:.1f}"


def values(results: list[dict], key: str) -> np.ndarray:
    return np.array([r[key] for r in results], dtype=float)


def ratio(a: list[dict], b: list[dict], key: str) -> str:
    """Median and range of the per-round ratios ``a[key] / b[key]`` (pairs of one round)."""
    n = min(len(a), len(b))
    r = values(a[:n], key) / values(b[:n], key)
    if len(r) == 1:
        return f"{r[0]:.2f}"
    return f"{np.median(r):.2f} ({r.min():.2f}-{r.max():.2f})"


def median(results: list[dict], key: str) -> float:
    return float(np.median(values(results, key)))


def spread(results: list[dict], key: str, fmt: str = ".3g") -> str:
    """``median (min-max)`` of ``key`` over rounds."""
    v = values(results, key)
    if len(v) == 1:
        return format(v[0], fmt)
    return f"{np.median(v):{fmt}} ({v.min():{fmt}}-{v.max():{fmt}})"


def rss(results: list[dict]) -> str:
    return f"{max(r['rss_mb'] for r in results):.0f}"


def loads(results: dict[str, list[dict]]) -> str:
    """The range of 1-minute load averages seen at the starts of the measurements."""
    v = [r["load"] for rs in results.values() for r in rs]
    return f"{min(v):.1f}-{max(v):.1f}" if v else "-"


def main_python() -> str:
    """The project's interpreter (the one running the benchmark)."""
    return sys.executable
