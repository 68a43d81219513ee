"""Regenerate every figure (or some) into one folder, with an index.

    python -m experiments.figures --outdir=figures_out                 # all (make figures)
    python -m experiments.figures --outdir=figures_out --only=principles_variance
    python -m experiments.figures --outdir=/tmp/f --quick              # small versions
    python -m experiments.figures --outdir=figures --jobs=2            # two at a time
    python -m experiments.figures --only=pendulum_curves --variant=full  # a named variant
    python -m experiments.figures --only=ode_lynx_hare --quick --config.num_draws=200

``--jobs=N`` draws N figures at once in separate processes (most figures are dominated by
single-threaded XLA compilation, so two processes on two cores finish sooner than one).

``--config.FIELD=VALUE`` overrides a field of the figures' configs (locked, as in
``experiments.main``: a misspelt field is an error naming it; values are Python literals,
else strings). Each figure comes from ``configs/figures/<name>.py``; the index
``<outdir>/index.md`` names each figure, the claim it illustrates, the command that
regenerates it, and the measured numbers.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "configs" / "figures"


def available() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.py") if not p.stem.startswith("_"))


def load_config(name: str, quick: bool, variant: str | None = None,
                overrides: dict | None = None):
    """The locked config of figure ``name`` (variant ``quick`` if quick), overrides applied."""
    from experiments import run

    path = CONFIG_DIR / f"{name}.py"
    if not path.exists():
        raise ValueError(f"no figure {name!r}; available: {', '.join(available())}.")
    spec = importlib.util.spec_from_file_location(f"_figcfg_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config("quick" if quick else variant)
    config.lock()
    try:
        run.apply_overrides(config, overrides)
    except ValueError as e:
        raise ValueError(f"figure {name}: {e}") from None
    return config


def parse_overrides(args: list[str]) -> dict:
    """``["--config.a.b=1e-3", ...]`` -> ``{"a.b": 0.001}`` (Python literals, else strings)."""
    out = {}
    for a in args:
        key, eq, text = a.removeprefix("--config.").partition("=")
        if not a.startswith("--config.") or not eq or not key:
            raise ValueError(f"unexpected argument {a!r}; overrides are --config.FIELD=VALUE.")
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[key] = {"true": True, "false": False}.get(text.lower(), text)
    return out


def make_figure(name: str, outdir: pathlib.Path, quick: bool = False,
                variant: str | None = None, overrides: dict | None = None):
    """Draw one figure into ``outdir/name/``; returns its FigureResult."""
    config = load_config(name, quick, variant, overrides)
    module = importlib.import_module(f"experiments.figures.{config.module}")
    out = outdir / name
    out.mkdir(parents=True, exist_ok=True)
    return module.make(config, out)


def _timed(name: str, outdir: pathlib.Path, quick: bool, variant: str | None,
           overrides: dict | None = None):
    """(name, FigureResult or the error's text, wall s, CPU s); runs in a worker process."""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        res = make_figure(name, outdir, quick, variant, overrides)
    except Exception as e:  # keep going: one broken figure must not lose the others
        res = f"{type(e).__name__}: {e}"
    return name, res, time.perf_counter() - t0, time.process_time() - c0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--outdir", default="figures_out")
    p.add_argument("--only", default="", help="comma-separated figure names")
    p.add_argument("--quick", action="store_true", help="small sample sizes (seconds each)")
    p.add_argument("--variant", default=None,
                   help="a named variant of the figures' configs (e.g. full)")
    p.add_argument("--jobs", type=int, default=1, help="figures drawn at once (processes)")
    args, rest = p.parse_known_args(argv)
    names = [n for n in args.only.split(",") if n] or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"error: unknown figure(s) {unknown}; available: {', '.join(available())}",
              file=sys.stderr)
        return 2
    try:  # every config (variant and overrides) is checked before anything is drawn
        overrides = parse_overrides(rest)
        for name in names:
            load_config(name, args.quick, args.variant, overrides)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    outdir = pathlib.Path(args.outdir)
    if args.jobs < 1:
        print(f"error: --jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    if args.jobs == 1:
        results = (_timed(name, outdir, args.quick, args.variant, overrides) for name in names)
    else:
        import concurrent.futures
        import multiprocessing

        pool = concurrent.futures.ProcessPoolExecutor(
            args.jobs, mp_context=multiprocessing.get_context("spawn"))
        futures = [pool.submit(_timed, name, outdir, args.quick, args.variant, overrides)
                   for name in names]
        results = (f.result() for f in concurrent.futures.as_completed(futures))
    rows, failed = [], []
    for name, res, dt, cpu in results:
        if isinstance(res, str):
            print(f"[figures] {name}: FAILED: {res}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        print(f"[figures] {name}: {dt:.1f} s wall, {cpu:.1f} s CPU -> "
              f"{', '.join(str(f) for f in res.files)}", flush=True)
        rows.append((name, res, dt, cpu))
    flag = " --quick" if args.quick else (f" --variant={args.variant}" if args.variant else "")
    write_index(outdir, rows, flag + "".join(f" {a}" for a in rest))
    if failed:
        print(f"[figures] {len(failed)} failed: {', '.join(failed)} (the others and the index "
              f"were written; rerun one with --only=NAME to see its traceback)", file=sys.stderr)
        return 1
    return 0


def write_index(outdir: pathlib.Path, rows, flag: str) -> None:
    index = outdir / "index.md"
    old = index.read_text() if index.exists() else ""
    sections = _split_sections(old)
    for name, res, dt, cpu in rows:
        nums = "\n".join(f"| {k} | {v:.6g} |" for k, v in res.numbers.items())
        files = ", ".join(f"[{f.name}]({name}/{f.name})" for f in res.files)
        sections[name] = (
            f"## {name}\n\n**Claim.** {res.claim}\n\n"
            f"**Command.** `python -m experiments.figures --only={name}{flag}` ({dt:.0f} s "
            f"wall, {cpu:.0f} s CPU)\n\n"
            f"**Files.** {files}\n\n| number | value |\n|---|---|\n{nums}\n")
    body = "\n".join(sections[k] for k in sorted(sections))
    index.write_text("# Figures\n\nRegenerate all with `make figures`.\n\n" + body)


def _split_sections(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in text.split("\n## ")[1:]:
        name = chunk.split("\n", 1)[0].strip()
        out[name] = "## " + chunk.rstrip("\n") + "\n"
    return out
