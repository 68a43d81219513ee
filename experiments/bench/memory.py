"""Benchmark: peak resident memory (RSS) of each experiment's default config.

    python -m experiments.bench --only=memory [--quick]

Each config's default variant (its members, batch sizes, data, model) runs in its own process
through the shared loop for a short step budget, with its intervals set to that budget and
artifacts off; the process's ``ru_maxrss`` is reported. Peak memory is set by the data, the
compiled program and the members, not by the number of steps (the loop keeps no per-step
history in memory), so the short run measures the full run's peak. A run still going after
the time limit (a heavy final evaluation) is stopped, and its peak until then (``VmHWM``) is
reported as a lower bound. ``--quick``: a few configs.

Nothing here is a ratio, so on a machine with two or more cores the configs run two at a
time, each process pinned to a core of its own: resident memory is per process, and the
section takes half the time.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue

from experiments.bench._procs import ROOT

NAME = "memory"
QUICK = ("lqg", "texture", "mixture")
STEPS = 110  # > pendulum's 100 warm-up steps
LIMIT = 75  # s per config: keeps the section's time bounded (a heavy final evaluation)


def configs() -> list[str]:
    """Config names of the experiments (configs/*.py except the shared base)."""
    return sorted(p.stem for p in (ROOT / "configs").glob("*.py")
                  if p.stem not in ("__init__", "base"))


def _row(name: str, main: str, steps: int, limit: float, cores: queue.Queue) -> str:
    from experiments.bench import _procs as P

    over = {"num_steps": steps, "eval_every": steps, "checkpoint_every": steps,
            "log_every": steps, "artifacts": False}
    core = cores.get()  # a core no other child of this section is using
    try:
        r = P.measure(main, "train", {"config": f"configs/{name}.py", "overrides": over},
                      timeout=limit, cpus=core)
    except P.TimedOut as e:  # a heavy final evaluation: its peak so far, a lower bound
        print(f"[bench]   {name}: >= {e.peak_mb:.0f} MB, stopped at {limit} s", flush=True)
        return f"| {name} | - | >= {e.peak_mb:.0f} (stopped at {limit} s) | {limit} | - |"
    except RuntimeError as e:  # report and go on: one broken config must not hide the rest
        print(f"[bench]   {name}: failed", flush=True)
        return f"| {name} | - | failed: {str(e).splitlines()[-1][:120]} | - | - |"
    finally:
        cores.put(core)
    print(f"[bench]   {name}: {r['rss_mb']:.0f} MB, {r['proc_s']:.1f} s", flush=True)
    return f"| {name} | {r['members']} | {r['rss_mb']:.0f} | {r['proc_s']:.1f} | {r['load']:.1f} |"


def run(quick: bool = False) -> str:
    from experiments.bench import _procs as P

    names = QUICK if quick else configs()
    steps = 50 if quick else STEPS
    limit = 60 if quick else LIMIT
    mine = sorted(os.sched_getaffinity(0))
    cores: queue.Queue = queue.Queue()  # None: one core, the children are not pinned
    for core in [str(c) for c in mine[:2]] if len(mine) >= 2 else [None]:
        cores.put(core)
    lines = [f"Each config's default variant, {steps} steps in its own process; peak RSS "
             f"(`ru_maxrss`) of that process; {cores.qsize()} at a time, each pinned to its "
             f"own core. Load = 1-minute load average at its start, on {os.cpu_count()} "
             "cores.", "",
             "| experiment | members | peak RSS MB | process s | load |", "|---|---|---|---|---|"]
    main = P.main_python()
    with concurrent.futures.ThreadPoolExecutor(cores.qsize()) as pool:
        rows = list(pool.map(lambda n: _row(n, main, steps, limit, cores), names))
    return "\n".join(lines + rows)
