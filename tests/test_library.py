"""rgrad is a library: it stands alone, never reaches into experiments/, files stay small."""

import ast
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_LINES = 300


def _py_files(*folders: str) -> list[pathlib.Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py"))


def _imported_modules(path: pathlib.Path) -> set[str]:
    """Absolute module names a file imports (``import a.b`` and ``from a.b import c``).

    ``from a import b`` yields both ``a`` and ``a.b``, since ``b`` may be a module; relative
    imports are resolved against the file's package.
    """
    package = path.relative_to(ROOT).parent.parts
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_rgrad_train_imports_from_a_copy_of_rgrad_alone(tmp_path):
    shutil.copytree(ROOT / "rgrad", tmp_path / "rgrad",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import sys, rgrad.train\n"
            "assert 'experiments' not in sys.modules\n"
            f"assert rgrad.train.__file__.startswith({str(tmp_path)!r}), rgrad.train.__file__\n")
    # -S: no site-packages .pth files, which would put the checkout (and experiments/) on the
    # path through an editable install; the dependencies are then added by hand.
    deps = [p for p in sys.path if p.endswith("site-packages")]
    env = {"PYTHONPATH": ":".join([str(tmp_path), *deps]), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run([sys.executable, "-S", "-c", "import experiments"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0, "experiments/ was importable: the check above proves nothing"


def test_rgrad_never_imports_experiments():
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in _imported_modules(p)
                                                  if m.split(".")[0] == "experiments")
                 for p in _py_files("rgrad")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_module_exceeds_300_lines():
    long = {str(p.relative_to(ROOT)): n for p in _py_files("rgrad", "experiments")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these files (at most {MAX_LINES} lines): {long}"


def test_tasks_import_no_other_experiment_module():
    """experiments/tasks/NAME.py builds on rgrad only; shared pieces belong in rgrad/."""
    offenders = {}
    for p in _py_files("experiments/tasks"):
        bad = sorted(m for m in _imported_modules(p) if m.split(".")[0] == "experiments")
        if bad:
            offenders[str(p.relative_to(ROOT))] = bad
    assert offenders == {}
