"""Every command in the config files' and entry points' docstrings runs as written.

The commands are read from the docstrings (module, function and class) of configs/*.py,
configs/figures/*.py, experiments/main.py, experiments/sweep.py and the figures' and benchmarks'
entry points (``experiments/figures/__main__.py`` and ``experiments/bench/__main__.py``, with
the drivers they point to): every line starting ``python -m experiments.`` (with its ``\\``
continuations, a trailing ``# remark`` or ``(remark)`` after two spaces dropped) and every
inline ```python -m experiments...``` span.

Two checks:

* ``test_every_docstring_command_resolves`` (default suite, in-process, seconds): each
  command's config, variant, overrides, sweep points, estimator options, figure and
  benchmark names resolve.
* ``test_docstring_commands_run`` runs them as subprocesses at a tiny size: an experiment
  config ``--config=configs/X.py:V`` becomes ``:V,quick`` (every variant combines with
  ``quick``, which shrinks data and evaluation; tests/test_configs.py checks it) followed by
  ``--config.num_epochs=0 --config.num_steps=2``, every-2-steps logging, evaluation and
  checkpoints and no learning-rate warm-up (a warm-up longer than the run is an error);
  figures get ``--quick``, benchmarks ``--quick``; ``runs/...`` paths, figure
  and benchmark outputs go to a temporary folder (one per source file, the file's commands
  run in order: a tool reads the run its file trained first). The entry points' own examples
  run in the default suite; the rest is marked slow.
"""

from __future__ import annotations

import ast
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = (sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").glob("*.py"))
           + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs" / "figures").glob("*.py"))
           + ["experiments/main.py", "experiments/sweep.py", "experiments/figures/__main__.py",
              "experiments/figures/driver.py", "experiments/bench/__main__.py",
              "experiments/bench/driver.py"])
FAST = ("experiments/main.py",)  # the default suite runs these files' commands
STEPS = 2  # training steps of every run (logged, evaluated and checkpointed at the end)
PREFIX = "python -m experiments."


def _docstrings(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text())
    nodes = [tree, *(n for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))]
    return [d for d in (ast.get_docstring(n, clean=True) for n in nodes) if d]


def _strip_remark(command: str) -> str:
    return re.split(r"\s{2,}[#(]|\s+#", command, maxsplit=1)[0].strip()


def extract(doc: str) -> list[str]:
    """The ``python -m experiments.`` commands of one docstring, in order."""
    found, lines, i = [], doc.splitlines(), 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith(PREFIX):
            command = line
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1].rstrip() + " " + lines[i].strip()
            found.append(_strip_remark(command))
        i += 1
    flat = " ".join(x.strip() for x in lines)
    found += [m.strip() for m in re.findall(r"`+(" + re.escape(PREFIX) + r"[^`]+)`+", flat)]
    return list(dict.fromkeys(found))


def commands() -> list[tuple[str, str]]:
    """(source file, command), first occurrence of each command in the repository."""
    seen, out = set(), []
    for source in SOURCES:
        for doc in _docstrings(ROOT / source):
            for command in extract(doc):
                if command not in seen:
                    seen.add(command)
                    out.append((source, command))
    return out


def _parse(command: str) -> tuple[str, dict[str, str], list[tuple[str, str]]]:
    """``python -m MODULE --a=1 --config.x=y`` -> (MODULE, {flag: value}, [(field, value)])."""
    words = shlex.split(command)
    assert words[:2] == ["python", "-m"], command
    flags, overrides = {}, []
    for word in words[3:]:
        assert word.startswith("--"), f"{command}: {word!r} is not a --flag"
        name, eq, value = word[2:].partition("=")
        if name.startswith("config."):
            overrides.append((name[len("config."):], value))
        else:
            flags[name] = value if eq else "True"
    return words[2], flags, overrides


def test_extraction_reads_blocks_continuations_remarks_and_inline_spans():
    doc = """Intro.

        python -m experiments.main --config=configs/vae.py \\
            --workdir=runs/vae   # remark
    Also ``python -m experiments.bench
    --only=estimators`` inline; `make run` is not a python command.
        python -m experiments.figures --only=calibration   (about a minute)
    """
    import inspect

    assert extract(inspect.cleandoc(doc)) == [
        "python -m experiments.main --config=configs/vae.py --workdir=runs/vae",
        "python -m experiments.figures --only=calibration",
        "python -m experiments.bench --only=estimators"]


def test_the_sources_hold_the_commands_we_expect():
    found = commands()
    sources = {s for s, _ in found}
    assert {"experiments/main.py", "experiments/sweep.py", "configs/vae.py",
            "configs/binary_vae.py", "configs/figures/stoch_attention.py"} <= sources
    assert sum(c.startswith(PREFIX + "main") for _, c in found) > 25
    assert any(":iwae,quick" in c for _, c in found)  # the composed-variant example


def _resolve_experiment(command: str, flags: dict, overrides: list) -> None:
    from experiments import registry, run, sweep
    from experiments.figures import driver
    from rgrad import train

    assert "workdir" in flags or "workdirs" in flags, f"{command}: no --workdir"
    config = run.load_config(flags["config"])
    config.lock()
    run.apply_overrides(config, driver.parse_overrides(
        [f"--config.{k}={v}" for k, v in overrides]))
    points = [{}]
    if command.split()[2] == "experiments.sweep":
        points = (train.parse_sweep(flags["sweep"]) if flags.get("sweep")
                  else sweep.config_sweep(str(ROOT / flags["config"])))
        assert points, f"{command}: no sweep points"
    for point in points:
        c = config.copy_and_resolve_references()
        run.apply_overrides(c, point)
        registry.check_config(c)  # every task's field domains and its estimator's options


# Commands known to be wrong in files this test's author does not own, with the fix; strict:
# the test fails once the docstring is fixed, so that the entry goes.
KNOWN_BROKEN: dict[str, str] = {}  # command -> why (a strict xfail until it is fixed)


def _cases():
    return [pytest.param(s, c, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN[c]))
            if c in KNOWN_BROKEN else (s, c) for s, c in commands()]


@pytest.mark.parametrize("command,message", [
    ("python -m experiments.main --config=configs/vae.py:quik --workdir=runs/x",
     "unknown config variant 'quik'"),
    ("python -m experiments.main --config=configs/vae.py:flax,iwae --workdir=runs/x",
     "both choose the model"),
    ("python -m experiments.main --config=configs/vae.py --config.optim.lrr=1 --workdir=runs/x",
     "lrr"),
    ("python -m experiments.main --config=configs/vae.py", "no --workdir"),
    ("python -m experiments.main --config=configs/binary_vae.py --config.estimator=... "
     "--workdir=runs/x", "estimator"),  # a template, not a command
    ("python -m experiments.sweep --config=configs/vae.py:quick --sweep=estimator=nope "
     "--workdir=runs/x", "'nope'"),
    ("python -m experiments.main --config=configs/binary_vae.py --config.estimator=arm "
     "--config.tau=0.5 --workdir=runs/x", "tau=0.5 does not apply to estimator='arm'"),
    ("python -m experiments.main --config=configs/vae.py --config.batch_size=0 "
     "--workdir=runs/x", "batch_size"),
    ("python -m experiments.figures --only=no_such_figure", "no figure 'no_such_figure'"),
    ("python -m experiments.figures --only=stoch_attention --variant=ful", "'ful'"),
    ("python -m experiments.bench --only=no_such_bench", "no_such_bench"),
])
def test_a_wrong_command_does_not_resolve(command, message):
    with pytest.raises((ValueError, AssertionError), match=re.escape(message)):
        test_every_docstring_command_resolves("", command)


@pytest.mark.parametrize("source,command", _cases())
def test_every_docstring_command_resolves(source, command):
    """The command's names exist: module, config file and variant, fields and their types,
    sweep points, estimator options; figures and benchmarks by name (and variant)."""
    from experiments.bench import driver as bench
    from experiments.figures import driver as figures

    module, flags, overrides = _parse(command)
    if module == "experiments.figures":
        names = [n for n in flags.get("only", "").split(",") if n] or figures.available()
        for name in names:
            figures.load_config(name, flags.get("quick") == "True", flags.get("variant"),
                                figures.parse_overrides([f"--config.{k}={v}"
                                                         for k, v in overrides]))
    elif module == "experiments.bench":
        names = [n for n in flags.get("only", "").split(",") if n and n != "all"]
        assert set(names) <= set(bench.available()), f"{source}: {command}: {names}"
    else:
        assert (ROOT / pathlib.Path(*module.split("."))).with_suffix(".py").exists(), module
        if "config" in flags:
            _resolve_experiment(command, flags, overrides)


def tiny(command: str, root: pathlib.Path) -> list[str]:
    """The command as an argv at a tiny size, its outputs under ``root`` (module docstring)."""
    module, flags, _ = _parse(command)
    words = shlex.split(command)
    words[0] = sys.executable
    words = [re.sub(r"(=|^)runs/", lambda m: f"{m.group(1)}{root}/runs/", w) for w in words]
    if module == "experiments.figures":  # --quick draws the quick variant (any --variant)
        words = [w for w in words if w != "--quick" and not w.startswith(("--outdir=",
                                                                           "--variant="))]
        return words + ["--quick", f"--outdir={root}/figures"]
    if module == "experiments.bench":
        words = [w for w in words if w != "--quick" and not w.startswith("--out=")]
        return words + ["--quick", f"--out={root}/BENCHMARKS.md"]
    config = flags.get("config", "")
    if config.startswith("configs/") and not config.startswith("configs/figures/"):
        path, _, arg = config.partition(":")
        words = [f"--config={path}:{arg + ',' if arg else ''}quick" if w.startswith("--config=")
                 else w for w in words]
        words += ["--config.num_epochs=0", f"--config.num_steps={STEPS}",
                  f"--config.log_every={STEPS}", f"--config.eval_every={STEPS}",
                  f"--config.checkpoint_every={STEPS}", "--config.optim.warmup_steps=0"]
    return words


def test_tiny_form_of_a_command():
    argv = tiny("python -m experiments.main --config=configs/vae.py:iwae "
                "--config.num_epochs=40 --workdir=runs/x", pathlib.Path("/t"))
    assert argv[1:] == ["-m", "experiments.main", "--config=configs/vae.py:iwae,quick",
                        "--config.num_epochs=40", "--workdir=/t/runs/x",
                        "--config.num_epochs=0", "--config.num_steps=2",
                        "--config.log_every=2", "--config.eval_every=2",
                        "--config.checkpoint_every=2", "--config.optim.warmup_steps=0"]
    argv = tiny("python -m experiments.tools.bayes_variance_table --config=configs/bayes_cnn.py"
                " --workdirs=local=runs/bcnn_local", pathlib.Path("/t"))
    assert "--workdirs=local=/t/runs/bcnn_local" in argv
    assert "--config=configs/bayes_cnn.py:quick" in argv


def _by_source() -> dict[str, list[str]]:
    """The commands to run, by source file; one of those with the same tiny form (the
    figures' variants all become --quick)."""
    out: dict[str, list[str]] = {}
    seen = set()
    for source, command in commands():
        if command in KNOWN_BROKEN:
            continue
        key = shlex.join(tiny(command, pathlib.Path("ROOT")))
        if key not in seen:
            seen.add(key)
            out.setdefault(source, []).append(command)
    return out


@pytest.mark.parametrize("source", [
    pytest.param(s, marks=() if s in FAST else pytest.mark.slow) for s in _by_source()])
def test_docstring_commands_run(source, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for command in _by_source()[source]:
        argv = tiny(command, tmp_path)
        r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env,
                           timeout=1800)
        assert r.returncode == 0, (f"{source}: {command}\nran as: {shlex.join(argv)}\n"
                                   f"{r.stderr[-3000:]}")
