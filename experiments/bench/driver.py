"""Run the benchmarks and write their sections into BENCHMARKS.md.

    python -m experiments.bench --out=BENCHMARKS.md            # all (make bench)
    python -m experiments.bench --only=estimators --quick

Each benchmark is a module ``experiments/bench/<name>.py`` with ``NAME`` and
``run(quick: bool) -> str`` (a Markdown section). Its section in BENCHMARKS.md is replaced
between ``<!-- bench:NAME -->`` markers; the rest of the file (training progress notes) stays.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import pathlib
import platform
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def available() -> list[str]:
    return sorted(p.stem for p in (ROOT / "experiments" / "bench").glob("*.py")
                  if p.stem not in ("__init__", "__main__", "driver"))


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
    args = p.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or available()
    out = pathlib.Path(args.out)
    for name in names:
        module = importlib.import_module(f"experiments.bench.{name}")
        print(f"[bench] {name} ...", flush=True)
        body = module.run(quick=args.quick)
        cmd = "python -m experiments.bench --only=" + name + (" --quick" if args.quick else "")
        stamp = (f"_Measured {datetime.date.today()} on {platform.machine()} "
                 f"({_cpu()}); command: `{cmd}`._\n\n")
        # Re-read right before writing: benchmarks take minutes, the file may have changed.
        text = out.read_text() if out.exists() else "# Benchmarks\n"
        out.write_text(replace_section(text, name, stamp + body))
        print(body)
    return 0


def _cpu() -> str:
    import os

    import jax

    return f"{os.cpu_count()} CPU cores, jax {jax.__version__} on {jax.default_backend()}"


if __name__ == "__main__":
    sys.exit(main())
