"""The documentation site builds without a warning (``make docs``: mkdocs build --strict)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_docs_build_strict(tmp_path):
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                        str(site)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    runs_page = (site / "api" / "runs" / "index.html").read_text()
    assert 'id="rgrad.runs.load_run"' in runs_page  # the API pages come from the docstrings
    logs_page = (site / "logs" / "index.html").read_text()
    assert 'href="../api/runs/#rgrad.runs.load_run"' in logs_page  # cross-references resolve
    for page in ("running", "sweeps", "notebooks", "adding_an_experiment",
                 "adding_an_estimator", "estimators"):
        assert (site / page / "index.html").exists(), page
