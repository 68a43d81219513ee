"""Run the benchmarks and write their sections into BENCHMARKS.md.

    python -m experiments.bench --out=BENCHMARKS.md            # the six sections (make bench)
    python -m experiments.bench --quick --out=runs/bench-quick.md   # make bench-quick
    python -m experiments.bench --only=estimators --quick
    python -m experiments.bench --only=all                     # every module, also scientific

The default sections are the peer comparisons of ``SECTIONS``; the peers run from their own
virtualenv ``.venv-bench`` (``make bench-env``), and without it their rows say so.

Each benchmark is a module ``experiments/bench/<name>.py`` with ``NAME`` and
``run(quick: bool) -> str`` (a Markdown section). Its section in BENCHMARKS.md is replaced
between ``<!-- bench:NAME -->`` markers; the rest of the file (training progress notes) stays.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import math
import os
import pathlib
import platform
import re
import sys
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parents[2]


# The sections of `make bench`: each comparison with a peer library, one process per side.
SECTIONS = ("vae", "estimators", "ode_inference", "sac", "seeds", "memory")


def available() -> list[str]:
    """Every benchmark module (helpers start with an underscore)."""
    return sorted(p.stem for p in (ROOT / "experiments" / "bench").glob("*.py")
                  if not p.stem.startswith("_") and p.stem != "driver")


def replace_section(text: str, name: str, body: str) -> str:
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text)
    return text.rstrip("\n") + "\n\n" + block + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="BENCHMARKS.md")
    p.add_argument("--only", default="")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--cpus", default="", help="pin every measured process to these cores "
                   "(e.g. 0), with as many threads; default: no pinning")
    args = p.parse_args(argv)
    if args.cpus:
        os.environ["RGRAD_BENCH_CPUS"] = args.cpus  # read by _procs.measure
    names = [n for n in args.only.split(",") if n] or list(SECTIONS)
    if names == ["all"]:
        names = available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        raise ValueError(f"--only names unknown benchmarks {unknown}; choose from "
                         f"{available()} or all.")
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in names:
        module = importlib.import_module(f"experiments.bench.{name}")
        print(f"[bench] {name} ...", flush=True)
        load0, cpu0, t0 = os.getloadavg(), _cpu_seconds(), time.perf_counter()
        try:
            body = module.run(quick=args.quick)
        except Exception:  # write what failed and go on with the other sections
            failed += 1
            body = "**This section failed:**\n\n```\n" + traceback.format_exc()[-3000:] + "```"
        cmd = ("python -m experiments.bench --only=" + name + (" --quick" if args.quick else "")
               + (f" --cpus={args.cpus}" if args.cpus else ""))
        load1, wall = os.getloadavg(), time.perf_counter() - t0
        other = _others_cores(cpu0, _cpu_seconds(), wall)
        known = not math.isnan(other)  # no /proc/stat: fall back on the load average
        # The load average counts the benchmark's own children too (one busy child is a load
        # of 1): what says whether a measurement competed is the CPU time of other processes.
        busy = (other > 0.5 if known
                else max(load0[0], load0[1], load1[0], load1[1]) > (os.cpu_count() or 1))
        warn = ("**Loaded machine: other processes kept "
                + (f"{other:.1f} cores busy on average" if known
                   else "the load average above the core count")
                + ", so absolute figures and libraries' ratios (busy-waiting thread pools "
                "suffer most) are "
                + ("not reliable; rerun on an idle machine or with `--cpus=0`.**\n\n"
                   if not args.cpus else f"less reliable (every side pinned to core(s) "
                   f"{args.cpus}).**\n\n")
                if busy else "")
        stamp = (f"_Measured {datetime.date.today()} on {platform.machine()} "
                 f"({_cpu()}); command: `{cmd}`; {wall:.0f} s; load "
                 f"average (1/5/15 min) {_load(load0)} at the start, {_load(load1)} at the "
                 "end" + (f"; other processes used {other:.2f} cores on average"
                          if known else "") + "._\n\n")
        # Re-read right before writing: benchmarks take minutes, the file may have changed.
        text = out.read_text() if out.exists() else "# Benchmarks\n"
        out.write_text(replace_section(text, name, stamp + warn + body))
        print(body)
    return 1 if failed else 0


def _cpu_seconds() -> tuple[float, float]:
    """(CPU seconds the whole machine has been busy, CPU seconds of this process and its
    reaped children); busy NaN where ``/proc/stat`` is unavailable."""
    import resource

    own = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF,
              resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
    try:
        fields = [int(x) for x in pathlib.Path("/proc/stat").read_text().split("\n")[0]
                  .split()[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, ValueError):
        return float("nan"), own
    busy = sum(fields) - fields[3] - fields[4] - fields[7]  # not idle, iowait or steal
    return busy / os.sysconf("SC_CLK_TCK"), own


def _others_cores(start: tuple[float, float], end: tuple[float, float], wall: float) -> float:
    """Cores other processes kept busy on average between two :func:`_cpu_seconds`."""
    return max(0.0, (end[0] - start[0]) - (end[1] - start[1])) / max(wall, 1e-9)


def _load(avg) -> str:
    return "/".join(f"{x:.1f}" for x in avg)


def _cpu() -> str:
    import os

    import jax

    return f"{os.cpu_count()} CPU cores, jax {jax.__version__} on {jax.default_backend()}"


if __name__ == "__main__":
    sys.exit(main())
