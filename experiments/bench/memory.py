"""Benchmark: peak resident memory (RSS) of each experiment's default config.

    python -m experiments.bench --only=memory [--quick]

Each config's default variant (its members, batch sizes, data, model) runs in its own process
through the shared loop for a short step budget, with its intervals set to that budget and
artifacts off; the process's ``ru_maxrss`` is reported. Peak memory is set by the data, the
compiled program and the members, not by the number of steps (the loop keeps no per-step
history in memory), so the short run measures the full run's peak. A run still going after
the time limit (a heavy final evaluation) is stopped, and its peak until then (``VmHWM``) is
reported as a lower bound. ``--quick``: a few configs.
"""

from __future__ import annotations

import os

from experiments.bench._procs import ROOT

NAME = "memory"
QUICK = ("lqg", "texture", "mixture")
STEPS = 200  # > pendulum's 100 warm-up steps


def configs() -> list[str]:
    """Config names of the experiments (configs/*.py except the shared base)."""
    return sorted(p.stem for p in (ROOT / "configs").glob("*.py")
                  if p.stem not in ("__init__", "base"))


def run(quick: bool = False) -> str:
    from experiments.bench import _procs as P

    names = QUICK if quick else configs()
    steps = 50 if quick else STEPS
    limit = 90 if quick else 150  # s per config: keeps the section's time bounded
    main = P.main_python()
    lines = [f"Each config's default variant, {steps} steps in its own process; peak RSS "
             "(`ru_maxrss`) of that process. Load = 1-minute load average at its start, on "
             f"{os.cpu_count()} cores.", "",
             "| experiment | members | peak RSS MB | process s | load |", "|---|---|---|---|---|"]
    for name in names:
        over = {"num_steps": steps, "eval_every": steps, "checkpoint_every": steps,
                "log_every": steps, "artifacts": False}
        try:
            r = P.measure(main, "train", {"config": f"configs/{name}.py", "overrides": over},
                          timeout=limit)
        except P.TimedOut as e:  # a heavy final evaluation: its peak so far, a lower bound
            lines.append(f"| {name} | - | >= {e.peak_mb:.0f} (stopped at {limit} s) | "
                         f"{limit} | {P.load():.1f} |")
            print(f"[bench]   {name}: >= {e.peak_mb:.0f} MB, stopped at {limit} s", flush=True)
            continue
        except RuntimeError as e:  # report and go on: one broken config must not hide the rest
            lines.append(f"| {name} | - | failed: {str(e).splitlines()[-1][:120]} | - | - |")
            print(f"[bench]   {name}: failed", flush=True)
            continue
        print(f"[bench]   {name}: {r['rss_mb']:.0f} MB, {r['proc_s']:.1f} s", flush=True)
        lines.append(f"| {name} | {r['members']} | {r['rss_mb']:.0f} | {r['proc_s']:.1f} | "
                     f"{r['load']:.1f} |")
    return "\n".join(lines)
