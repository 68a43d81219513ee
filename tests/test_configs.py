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
