"""Smoke test: the estimators benchmark runs at small sizes and reports each estimator."""
import pytest

from experiments.bench import estimators as bench_estimators


@pytest.mark.slow  # four processes (~1-2 min); `make bench-quick` exercises it
def test_quick_run_reports_each_estimator():
    assert bench_estimators.NAME == "estimators"
    table = bench_estimators.run(quick=True)
    for name in ("pathwise", "score_function", "measure_valued"):
        assert f"| {name} |" in table
    assert "noise floor (target <= 10x)" in table
