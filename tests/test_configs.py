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
