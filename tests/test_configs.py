"""Every experiment config opens with its launch command and has a locked quick variant."""

import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.stem for p in (ROOT / "configs").glob("*.py")
                 if p.stem not in ("__init__", "base"))


@pytest.mark.parametrize("name", CONFIGS)
def test_config_has_docstring_quick_variant_and_locks(name):
    module = importlib.import_module(f"configs.{name}")
    doc = module.__doc__ or ""
    assert "python -m experiments." in doc, f"configs/{name}.py: docstring lacks the command"
    c = module.get_config("quick")
    assert c.experiment and (ROOT / "experiments" / "tasks" / f"{c.experiment}.py").exists()
    c.lock()
    with pytest.raises(AttributeError):
        c.no_such_field = 1
    with pytest.raises(ValueError, match="quick"):
        module.get_config("no_such_variant")


FIGURE_CONFIGS = sorted(p.stem for p in (ROOT / "configs" / "figures").glob("*.py")
                        if p.stem != "__init__")
ALL_CONFIG_FILES = ([f"configs/{n}.py" for n in CONFIGS]
                    + [f"configs/figures/{n}.py" for n in FIGURE_CONFIGS])


@pytest.mark.parametrize("path", ALL_CONFIG_FILES)
def test_every_config_file_rejects_a_misspelt_variant(path):
    from experiments import run

    with pytest.raises(ValueError, match="unknown config variant 'quik'; use one of ") as e:
        run.load_config(f"{path}:quik")
    assert "\n" not in str(e.value) and "quick" in str(e.value)
    run.load_config(f"{path}:quick").lock()  # the quick variant exists and locks


def test_figure_docstring_commands_use_real_variants():
    import re

    from experiments import run

    for name in FIGURE_CONFIGS:
        lines = (ROOT / "configs" / "figures" / f"{name}.py").read_text().splitlines()
        for line in (x for x in lines if "python -m experiments.figures" in x):
            assert "--config=" not in line, f"{name}: the figures take --variant: {line}"
            for variant in re.findall(r"--variant=(\w+)", line):
                run.load_config(f"configs/figures/{name}.py:{variant}")  # raises if unknown


def test_run_overrides_go_through_the_locked_config():
    from experiments import run

    c = run.resolve("configs/vae.py:quick", {"optim.lr": 3e-4, "num_steps": 7})
    assert c.optim.lr == 3e-4 and c.num_steps == 7
    with pytest.raises(AttributeError):
        c.no_such_field = 1
    for bad, field in (({"optim.lrr": 1.0}, "'lrr'"), ({"optimm.lr": 1.0}, "'optimm'"),
                       ({"num_steps": "many"}, "'num_steps'")):
        with pytest.raises(ValueError, match=field) as e:
            run.resolve("configs/vae.py:quick", bad)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="no file"):
        run.resolve("configs/no_such.py:quick")


def test_figures_driver_applies_overrides_to_the_locked_figure_config(capsys):
    from experiments.figures import driver

    c = driver.load_config("ode_lynx_hare", True, overrides=driver.parse_overrides(
        ["--config.num_draws=7", "--config.seed=3"]))
    assert (c.num_draws, c.seed) == (7, 3)
    assert driver.main(["--only=ode_lynx_hare", "--quick", "--config.num_drawz=7"]) == 2
    err = capsys.readouterr().err
    assert "no field 'num_drawz'" in err and len(err.strip().splitlines()) == 1
    assert driver.main(["--only=ode_lynx_hare", "--variant=quik"]) == 2
    assert "use one of default, quick" in capsys.readouterr().err


# --- composable variants --------------------------------------------------------------------

GOLDEN = ROOT / "tests" / "golden" / "config_variants.json"


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: repr(v)})
    return out


def _snapshot(module, arg) -> dict:
    """A config (and its sweep's points) as reprs: tuples, ints and floats stay distinct."""
    entry = {"config": _flat(module.get_config(arg).to_dict())}
    if hasattr(module, "sweep"):
        points = []
        module.sweep(lambda **kw: points.append({k: repr(v) for k, v in kw.items()}), arg)
        entry["sweep"] = points
    return entry


def _all_config_modules() -> list[str]:
    return [f"configs.{n}" for n in CONFIGS] + [f"configs.figures.{n}" for n in FIGURE_CONFIGS]


def write_golden():
    """Regenerate the golden file after a deliberate config change:
    ``.venv/bin/python tests/test_configs.py``."""
    import json

    out = {}
    for name in _all_config_modules():
        module = importlib.import_module(name)
        for arg in (*module.VARIANTS, None):
            out[f"{name}:{arg or '<None>'}"] = _snapshot(module, arg)
    GOLDEN.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


def test_every_named_variant_gives_the_config_it_gave_before_composition():
    """The single-token variants (and the sweeps' points) are unchanged since variants became
    composable. A field added to configs/base.py since then may appear, at its base value."""
    import json

    from configs import base

    golden = json.loads(GOLDEN.read_text())
    assert len(golden) == sum(len(importlib.import_module(n).VARIANTS) + 1
                              for n in _all_config_modules())
    base_fields = _flat(base.get_config().to_dict())
    for key, want in golden.items():
        name, _, arg = key.partition(":")
        got = _snapshot(importlib.import_module(name), None if arg == "<None>" else arg)
        assert got.get("sweep") == want.get("sweep"), key
        added = {k: v for k, v in got["config"].items() if k not in want["config"]}
        assert added == {k: base_fields.get(k) for k in added}, (key, added)
        changed = {k: (v, got["config"].get(k)) for k, v in want["config"].items()
                   if got["config"].get(k) != v}
        assert not changed, (key, changed)


def test_parse_arg_flags_key_value_form_and_canonical_string():
    from configs import base

    allowed = ("default", "flax", "iwae", "quick")
    parse = lambda arg: base.parse_arg(arg, allowed, exclusive={"model": ("flax", "iwae")})
    for arg in ("iwae,quick", "quick,iwae", "variant=iwae,quick=1", " iwae , quick=true",
                "default,iwae,quick", "iwae,quick,quick,flax=0"):
        v = parse(arg)
        assert (v.flags, str(v)) == (("iwae", "quick"), "iwae,quick"), arg
        assert "iwae" in v and "quick" in v and "flax" not in v and "default" not in v
    for arg in (None, "", "default", "quick=0", "variant=default"):
        assert (parse(arg).flags, str(parse(arg))) == (("default",), "default"), arg
    for arg, message in (("iwae,quik", "unknown config variant 'quik'; use one of default, "),
                         ("iwae,,quick", "has an empty item"),
                         ("quick=maybe", "'quick=maybe': the value must be 1 or 0"),
                         ("variant=", "has an empty item"),
                         ("flax,iwae,quick", "variants 'flax' and 'iwae' both choose the "
                                             "model; give at most one of flax, iwae.")):
        with pytest.raises(ValueError, match=message) as e:
            parse(arg)
        assert "\n" not in str(e.value)


def test_parse_arg_aliases_expand_and_keep_their_name():
    from configs import base

    allowed = ("toy", "mnist", "denoiser", "quick", "mnist_quick")
    v = base.parse_arg("mnist_quick", allowed, aliases={"mnist_quick": ("mnist", "quick")})
    assert (v.flags, str(v)) == (("mnist", "quick"), "mnist_quick")


def test_quick_composes_with_a_model_variant():
    """vae.py:iwae,quick is the iwae model and optimizer at the quick variant's sizes."""
    from configs import vae

    c, iwae, quick = vae.get_config("iwae,quick"), vae.get_config("iwae"), vae.get_config("quick")
    assert c.variant == "iwae,quick"
    assert (c.model.activation, c.optim.eps, c.optim.schedule) == ("tanh", 1e-4, "iwae")
    assert c.eval.final_num_examples == quick.eval.final_num_examples == 100
    for field in ("num_steps", "num_epochs", "batch_size", "log_every", "eval_every"):
        assert c[field] == quick[field], field
    assert tuple(c.model.enc_hidden) == (64,) != tuple(iwae.model.enc_hidden)
    same = lambda a, b: {**a.to_dict(), "variant": ""} == {**b.to_dict(), "variant": ""}
    assert same(c, vae.get_config("variant=iwae,quick=1"))
    assert same(vae.get_config("iwae,quick=0"), iwae)
    k50 = vae.get_config("iwae_k50,quick")
    assert (k50.objective, k50.num_samples, k50.num_steps) == ("iwae", 50, 200)
    with pytest.raises(ValueError, match="'flax' and 'iwae' both choose the model"):
        vae.get_config("flax,iwae")


@pytest.mark.parametrize("path,alias,combined", [
    ("configs/diffusion.py", "mnist_quick", "mnist,quick"),
    ("configs/calibration.py", "bnn_quick", "bnn,quick"),
    ("configs/pendulum.py", "quick_reinforce", "reinforce,quick")])
def test_combined_variants_equal_the_old_combined_names(path, alias, combined):
    from experiments import run

    a, b = run.load_config(f"{path}:{alias}"), run.load_config(f"{path}:{combined}")
    assert (a.variant, b.variant) == (alias, combined)
    assert {**a.to_dict(), "variant": ""} == {**b.to_dict(), "variant": ""}


@pytest.mark.parametrize("path", [f"configs/{n}.py" for n in CONFIGS])
def test_every_variant_combines_with_quick_or_says_why_not(path):
    """Every experiment config's variants take ``,quick`` (the docstring-example test relies
    on it), or refuse it in one line naming the clash."""
    from experiments import run

    module = importlib.import_module(f"configs.{pathlib.Path(path).stem}")
    for name in module.VARIANTS:
        try:
            c = run.load_config(f"{path}:{name},quick")
        except ValueError as e:
            assert "both choose the" in str(e) and "\n" not in str(e), (name, e)
            continue
        c.lock()
        assert c.num_epochs == 0 and c.num_steps <= 1500, (name, c.num_epochs, c.num_steps)


def test_config_sweeps_follow_composed_variants():
    from experiments import sweep

    table1 = [{"objective": "elbo", "num_samples": 1}, {"objective": "iwae", "num_samples": 50}]
    assert sweep.config_sweep(f"{ROOT}/configs/vae.py:iwae,quick") == table1
    assert sweep.config_sweep(f"{ROOT}/configs/vae.py:variant=iwae") == table1
    assert len(sweep.config_sweep(f"{ROOT}/configs/vae.py:quick")) == 4


def test_figures_take_composed_or_refuse_conflicting_variants(capsys):
    from experiments.figures import driver

    assert driver.load_config("stoch_attention", False, "full").runs[0][1] == (
        "configs/stoch_attention.py:default")
    assert driver.main(["--only=stoch_attention", "--variant=full,quick"]) == 2
    err = capsys.readouterr().err
    assert "'full' and 'quick' both choose the runs" in err
    assert len(err.strip().splitlines()) == 1


if __name__ == "__main__":
    write_golden()


# --- options that do not apply to the chosen estimator --------------------------------------

def _from_config(path, **fields):
    from experiments import run
    from rgrad import estimators

    c = run.resolve(path, fields)
    kind = {"binary_vae": "bernoulli", "categorical_vae": "categorical"}.get(c.experiment)
    return estimators.from_config(c, kind=kind)


@pytest.mark.parametrize("path,fields,message", [
    ("configs/vae.py:quick", {"baseline": "rloo"},
     "baseline='rloo' applies to the score-function estimators only, not estimator='pathwise'"),
    ("configs/vae.py:quick", {"baseline_decay": 0.9},
     "baseline_decay=0.9 does not apply to baseline='none' (only to baseline moving_average)"),
    ("configs/vae.py:quick", {"estimator": "score_function", "baseline": "rloo",
                              "baseline_decay": 0.5}, "does not apply to baseline='rloo'"),
    ("configs/binary_vae.py:quick", {"estimator": "arm", "tau": 0.5},
     "tau=0.5 does not apply to estimator='arm' (only to estimator gumbel_rao, gumbel_softmax"),
    ("configs/categorical_vae.py:quick", {"estimator": "score_function",
                                          "vmap_sweep": "tau=0.5,2.0"},
     "vmap_sweep varies tau, which estimator='score_function' ignores"),
    ("configs/binary_vae.py:quick", {"estimator": "arm",
                                     "estimator_options": {"num_rao_samples": 3}},
     "estimator_options.num_rao_samples is not an option of estimator='arm' (its constructor "
     "takes no options); it is an option of gumbel_rao."),
    ("configs/binary_vae.py:quick", {"estimator": "nvil", "estimator_options": {"hiden": 8}},
     "takes decay, hidden, normalise); did you mean 'hidden'?"),
    ("configs/categorical_vae.py:quick", {"estimator_options": {"temperature": 0.5}},
     "estimator_options.temperature is set by --config.tau"),
])
def test_an_option_the_estimator_ignores_is_a_one_line_error(path, fields, message):
    import re

    with pytest.raises(ValueError, match=re.escape(message)) as e:
        _from_config(path, **fields)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("path,fields", [
    ("configs/vae.py:quick", {"estimator": "score_function", "baseline": "moving_average",
                              "baseline_decay": 0.9}),
    ("configs/binary_vae.py:quick", {"estimator": "arm", "tau": 1.0}),  # the default: untouched
    ("configs/binary_vae.py:quick", {"estimator": "relax", "tau": 0.5,
                                     "vmap_sweep": "tau=0.5,2.0"}),
    ("configs/binary_vae.py:quick", {"estimator": "gumbel_rao",
                                     "estimator_options": {"num_rao_samples": 3}}),
    ("configs/categorical_vae.py:quick", {"estimator": "nvil",
                                          "estimator_options": {"hidden": 8}}),
])
def test_options_the_estimator_takes_pass(path, fields):
    _from_config(path, **fields)


def test_no_shipped_config_or_sweep_point_sets_an_option_its_estimator_ignores():
    from rgrad import estimators

    checked = 0
    for name in CONFIGS:
        module = importlib.import_module(f"configs.{name}")
        for arg in module.VARIANTS:
            points = [{}]
            if hasattr(module, "sweep"):
                module.sweep(lambda **kw: points.append(kw), arg)
            for point in points:
                c = module.get_config(arg)
                c.update_from_flattened_dict(point)
                if c.get("estimator") in estimators.ESTIMATORS:
                    baseline = c.get("baseline") or "none"
                    if c.experiment == "lqg":  # the task's own default (tasks/lqg.py)
                        baseline = "rloo" if c.estimator == "score_function" else "none"
                    estimators.check_options(c, {"baseline": baseline})
                    checked += 1
    assert checked > 40
