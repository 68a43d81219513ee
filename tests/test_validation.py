"""Every config field with a domain is checked before anything is written, in one line.

Three layers: (1) the issue's bad inputs, hand-written, each refused naming its field (and the
nearest good value accepted); (2) every rule of every table tried at its stated boundary, in a
config that has the field: the value just outside the range the message states is refused, the
edge inside accepted (so a rule whose predicate disagrees with its text fails here, which
``test_boundary_check_catches_a_wrong_rule`` confirms); (3) a few through the real entry point
``python -m experiments.main``: exit code 1, one ``error:`` line, no workdir.
"""

import functools
import glob
import importlib
import importlib.util
import math
import pathlib
import re
import subprocess
import sys

import pytest

from experiments import registry, run
from rgrad import config_checks

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG_FILES = sorted(p for p in glob.glob(str(ROOT / "configs" / "*.py"))
                      if not p.endswith(("__init__.py", "base.py")))


def _variants(path):
    spec = importlib.util.spec_from_file_location(f"_cfg_{pathlib.Path(path).stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.VARIANTS


ALL_REFS = [f"configs/{pathlib.Path(p).name}:{v}" for p in CONFIG_FILES for v in _variants(p)]


def _check(ref, overrides=None):
    registry.check_config(run.resolve(ref, overrides))


def _refused(ref, overrides, field):
    """The one-line ValueError of ``overrides`` on ``ref``; it names ``field``."""
    with pytest.raises(ValueError) as e:
        _check(ref, overrides)
    msg = str(e.value)
    assert "\n" not in msg and f"config.{field}=" in msg, msg
    return msg


@pytest.mark.parametrize("ref", ALL_REFS)
def test_every_config_default_and_variant_passes(ref):
    _check(ref)


def test_every_config_sweep_point_passes():
    from experiments import sweep

    points = [(ref, p) for ref in ALL_REFS for p in sweep.config_sweep(ref)]
    assert points  # some configs define sweep(add, arg)
    for ref, point in points:
        _check(ref, point)


# (config, bad overrides, field named) -- issue 20's list, and what each allows at the edge.
ISSUE_CASES = [
    ("vae.py:quick", {"optim.lr": 0.0}, "optim.lr", {"optim.lr": 1e-9}),
    ("vae.py:quick", {"optim.lr": -1e-3}, "optim.lr", None),
    ("vae.py:quick", {"optim.lr": math.inf}, "optim.lr", None),
    ("vae.py:quick", {"batch_size": 0}, "batch_size", {"batch_size": 1}),
    ("vae.py:quick", {"batch_size": -4}, "batch_size", None),
    ("vae.py:quick", {"num_steps": -1}, "num_steps", {"num_steps": 0}),
    ("vae.py:quick", {"log_every": 0}, "log_every", {"log_every": 1}),
    ("vae.py:quick", {"eval_every": 0}, "eval_every", None),
    ("vae.py:quick", {"checkpoint_every": 0}, "checkpoint_every", None),
    ("vae.py:quick", {"keep_checkpoints": 0}, "keep_checkpoints", {"keep_checkpoints": 1}),
    ("vae.py:quick", {"eval.num_samples": 0}, "eval.num_samples", {"eval.num_samples": 1}),
    ("vae.py:quick", {"num_seeds": 0}, "num_seeds", {"num_seeds": 1}),
    ("vae.py:quick", {"seed": -1}, "seed", {"seed": 0}),
    ("vae.py:quick", {"optim.b2": 1.0}, "optim.b2", {"optim.b2": 0.0}),
    ("vae.py:quick", {"kl_weight": -0.5}, "kl_weight", {"kl_weight": 0.0}),
    ("categorical_vae.py:quick", {"num_samples": 0}, "num_samples", {"num_samples": 1}),
    ("categorical_vae.py:quick", {"tau": 0.0}, "tau", {"tau": 1e-3}),
    ("categorical_vae.py:quick", {"tau": -1.0}, "tau", None),
    ("categorical_vae.py:quick", {"tau_min": 0.0}, "tau_min", None),
    ("binary_vae.py:quick", {"tau": 0.0}, "tau", None),
    ("lqg.py:quick", {"sigma": -0.1}, "sigma", {"sigma": 0.0}),  # pathwise: sigma = 0 is fine
    ("lqg.py:score_function", {"sigma": 0.0}, "sigma", {"sigma": 1e-3}),
    ("ode_inference.py:quick", {"eval.num_samples": 0}, "eval.num_samples", None),
    ("ode_inference.py:quick", {"init_scale": 0.0}, "init_scale", None),
    ("concrete_dropout.py:quick", {"model.init_keep": 1.0}, "model.init_keep", None),
    ("pendulum.py:quick", {"sac.gamma": 1.0}, "sac.gamma", {"sac.gamma": 0.0}),
    ("diffusion.py:quick", {"eval.draws": 1}, "eval.draws", {"eval.draws": 2}),
    ("diffusion.py:quick", {"eval.num_samples": -1}, "eval.num_samples",
     {"eval.num_samples": 0}),  # diffusion: 0 = draw no samples
    # Sample counts a baseline or an estimator needs (the field it reads is named).
    ("vae.py:quick", {"estimator": "score_function", "baseline": "rloo", "num_samples": 1},
     "num_samples", {"estimator": "score_function", "baseline": "rloo", "num_samples": 2}),
    ("categorical_vae.py:quick", {"estimator": "rloo", "num_samples": 1}, "num_samples",
     {"estimator": "rloo", "num_samples": 2}),
    ("binary_vae.py:quick", {"estimator": "rloo", "num_samples": 1}, "num_samples", None),
    ("mixture.py:quick", {"num_pairs": 1}, "num_pairs", {"num_pairs": 2}),
    ("lqg.py:score_function", {"batch_size": 1}, "batch_size", {"batch_size": 2}),
    # Cross-field checks of a task.
    ("texture.py:quick", {"max_lag": 48}, "max_lag", {"max_lag": 47}),
    ("ode_inference.py:quick", {"init_mean": (1.0, 2.0)}, "init_mean", None),
    ("ode_inference.py:abc", {"abc.rates": (0.5, 0.5)}, "abc.rates", {"abc.rates": (0.5, 0.6)}),
    # vmap_sweep points are checked like the fields they replace.
    ("vae.py:quick", {"vmap_sweep": "lr=1e-3,0.0"}, "vmap_sweep point lr", None),
    ("categorical_vae.py:quick", {"vmap_sweep": "tau=1.0,-2.0"}, "vmap_sweep point tau", None),
    ("vae.py:quick", {"vmap_sweep": "kl_weight=0.5,oops"}, "vmap_sweep point kl_weight", None),
]


@pytest.mark.parametrize("ref,bad,field,good", ISSUE_CASES,
                         ids=[f"{c[0]}-{c[2]}-{list(c[1].values())[-1]}" for c in ISSUE_CASES])
def test_issue_inputs_are_refused_naming_the_field(ref, bad, field, good):
    msg = _refused(f"configs/{ref}", bad, field)
    assert "out of range" in msg or "must differ" in msg or "values" in msg, msg
    if good is not None:
        _check(f"configs/{ref}", good)


# ---------------------------------------------------------------------------------------------
# Every rule at the boundary its message states.
# ---------------------------------------------------------------------------------------------
def boundary_values(text):
    """(allowed, refused) example values for a rule's range text, read from the text only."""
    if m := re.fullmatch(r"an integer >= (-?\d+)", text):
        lo = int(m[1])
        return [lo, lo + 7], [lo - 1]
    if m := re.fullmatch(r"an integer in \[(\d+), (\d+)\]", text):
        lo, hi = int(m[1]), int(m[2])
        return [lo, hi], [lo - 1, hi + 1]
    if m := re.fullmatch(r"a finite number (>|>=) (\S+)", text):
        x = float(m[2])
        inside = [x * (1 + 1e-6) + 1e-9] if m[1] == ">" else [x]
        return inside, [x if m[1] == ">" else x - 1e-3, math.nan, math.inf]
    if text == "a finite number":
        return [0.0, -3.5], [math.nan, -math.inf]
    if m := re.fullmatch(r"a number in ([\[(])(\S+), (\S+)([\])])", text):
        lo, hi = float(m[2]), float(m[3])
        mid = (lo + hi) / 2
        ok, bad = [mid], [lo - 1e-3, hi + 1e-3, math.nan]
        (ok if m[1] == "[" else bad).append(lo)
        (ok if m[4] == "]" else bad).append(hi)
        return ok, bad
    if text == "an integer >= 1 or a tuple of integers >= 1":
        return [1, (), (3, 1)], [0, (0,), (4, -1)]
    if m := re.fullmatch(r"a tuple (?:of at least (\d+) )?(?:of )?elements each (.+)", text):
        n = int(m[1] or 0)
        good, bad = boundary_values(m[2])
        return ([tuple([good[0]] * max(n, 1))] + ([()] if n == 0 else []),
                [tuple([good[0]] * max(n - 1, 0) + [b]) for b in bad]
                + ([tuple([good[0]] * (n - 1))] if n else []))
    raise AssertionError(f"no boundary values for the range text {text!r}")


@functools.cache
def _resolved(ref):
    """The default config of ``ref`` (read only)."""
    return run.resolve(ref)


def _task_domains(ref):
    return getattr(registry.task_module(_resolved(ref)), "CONFIG_DOMAINS", None) or {}


@functools.cache
def _config_with(path):
    """A config reference that has the dotted field ``path`` under the common rule (its task
    does not tighten it); quick variants first."""
    for ref in sorted(ALL_REFS, key=lambda r: not r.endswith(":quick")):
        present, _ = config_checks._get(_resolved(ref), path)
        if present and path not in _task_domains(ref):
            return ref
    return None


def _task_rules():
    out = []
    for file in sorted(glob.glob(str(ROOT / "experiments" / "tasks" / "[a-z]*.py"))):
        name = pathlib.Path(file).stem
        module = importlib.import_module(f"experiments.tasks.{name}")
        for p, r in getattr(module, "CONFIG_DOMAINS", {}).items():
            out.append((name, p, r))
    return out


RULES = [("common", p, r) for p, r in config_checks.COMMON.items()] + _task_rules()
# The intervals must stay multiples of log_every whatever value is tried.
INTERVALS = {"log_every": 1, "eval_every": 56, "checkpoint_every": 56}


def check_boundaries(path, rule, ref, domains=None):
    """Assert ``rule`` of ``path`` accepts its edge values and refuses the ones outside, in
    the config ``ref`` with ``domains`` (a task's table) checked on top of COMMON.

    Values of another type than the field's (a tuple for an int field) are skipped; at least
    one allowed and one refused value must be tried.
    """
    allowed, refused = boundary_values(rule.allowed)
    base = run.resolve(ref, INTERVALS if path in INTERVALS else None)
    tried = [0, 0]
    for ok, values in ((True, allowed), (False, refused)):
        for value in values:
            try:
                c = run.resolve(base, {path: value})
            except ValueError as e:
                assert str(e).startswith(f"override {path}="), e  # the field's type
                continue
            tried[ok] += 1
            if ok:
                config_checks.check_config(c, {**(domains or {}), path: rule})
                continue
            with pytest.raises(ValueError, match=re.escape(f"config.{path}=")) as e:
                config_checks.check_config(c, {**(domains or {}), path: rule})
            msg = str(e.value)
            assert "\n" not in msg and rule.allowed in msg and "out of range" in msg, msg
    assert tried[0] and tried[1], f"{path}: no value of the field's type was tried"


@pytest.mark.parametrize("owner,path,rule", RULES, ids=[f"{o}:{p}" for o, p, _ in RULES])
def test_every_rule_refuses_just_outside_its_stated_range(owner, path, rule):
    if owner == "common":
        ref = _config_with(path)
        if ref is None:
            pytest.skip(f"no config has {path} under the common rule")
    else:
        ref = next(r for r in ALL_REFS if registry.task_module(_resolved(r)).__name__
                   == f"experiments.tasks.{owner}" and config_checks._get(_resolved(r), path)[0])
    check_boundaries(path, rule, ref, _task_domains(ref))


def test_every_common_rule_is_exercised_by_some_config():
    unused = [p for p in config_checks.COMMON
              if not any(config_checks._get(_resolved(r), p)[0] for r in ALL_REFS)]
    assert unused == [], f"rules no config exercises (stale names?): {unused}"


def test_boundary_check_catches_a_wrong_rule():
    # The checker itself can fail: a predicate looser or stricter than its stated range.
    loose = config_checks.Rule(lambda v: v >= 0, "an integer >= 1", "batch")
    strict = config_checks.Rule(lambda v: v > 0, "a finite number >= 0", "kl")
    with pytest.raises(BaseException, match="DID NOT RAISE"):
        check_boundaries("batch_size", loose, "configs/vae.py:quick")
    with pytest.raises(ValueError, match="kl_weight=0.0"):
        check_boundaries("kl_weight", strict, "configs/vae.py:quick")


def test_unknown_estimator_in_a_sweep_point_is_found_without_building_the_task():
    msg = _refused("configs/vae.py:quick", {"estimator": "score_function", "baseline": "rloo",
                                            "num_samples": 1}, "num_samples")
    assert "estimator='score_function' with baseline='rloo' needs num_samples >= 2" in msg


# ---------------------------------------------------------------------------------------------
# The real entry point: one error line, exit code 1, nothing written.
# ---------------------------------------------------------------------------------------------
MAIN_CASES = [
    ("vae.py:quick", "--config.optim.lr=0", "config.optim.lr=0.0"),
    ("categorical_vae.py:quick", "--config.num_samples=0", "config.num_samples=0"),
    ("lqg.py:score_function", "--config.sigma=0", "config.sigma=0.0"),
    ("vae.py:quick", "--config.checkpoint_every=0", "config.checkpoint_every=0"),
]


@pytest.mark.parametrize("ref,flag,named", MAIN_CASES, ids=[c[1] for c in MAIN_CASES])
def test_entry_point_refuses_in_one_line_and_writes_nothing(tmp_path, ref, flag, named):
    workdir = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "experiments.main", f"--config=configs/{ref}",
                        flag, f"--workdir={workdir}"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert p.returncode == 1 and len(errors) == 1 and named in errors[0], p.stderr[-2000:]
    assert "out of range" in errors[0] and "Traceback" not in p.stderr
    assert not workdir.exists()
