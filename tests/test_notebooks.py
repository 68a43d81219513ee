"""The notebooks in notebooks/ run top to bottom (their own asserts check their claims).

Executed with nbclient (what nbmake uses) in a fresh kernel whose working directory is the
repository root, with this process's environment (RGRAD_DATA_DIR, the tests' XLA flags).
The same runs from a shell: ``pytest --nbmake notebooks/``. Stored notebooks carry no outputs.
"""

import json
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
FAST = ["01_estimators.ipynb", "03_new_estimator.ipynb"]  # seconds each: default suite
SLOW = ["02_runs_and_sweeps.ipynb"]  # trains a run and a sweep: about a minute on 2 cores


def execute(name: str, tmp_path: pathlib.Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    env = {"RGRAD_NOTEBOOK_RUNS": str(tmp_path / "runs"), "MPLBACKEND": "Agg"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("name", FAST)
def test_notebook_runs(name, tmp_path):
    execute(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_slow_notebook_runs(name, tmp_path):
    execute(name, tmp_path)


def test_every_notebook_is_tested_and_stored_without_outputs():
    stored = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert stored == sorted(FAST + SLOW)
    for name in stored:
        nb = json.loads((NOTEBOOKS / name).read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert code and all(not c["outputs"] and c["execution_count"] is None for c in code), (
            f"{name}: strip its outputs (jupyter nbconvert --clear-output --inplace {name})")
