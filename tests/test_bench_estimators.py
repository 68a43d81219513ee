"""Smoke test: the estimators benchmark runs at tiny sizes and reports each estimator."""
import pytest

from experiments.bench import estimators as bench_estimators


@pytest.mark.slow  # compile-bound (~1 min); `make bench` exercises it
def test_quick_run_reports_each_estimator():
    assert bench_estimators.NAME == "estimators"
    table = bench_estimators.run(quick=True)
    for name in ("pathwise", "score_function", "measure_valued"):
        assert f"| {name} |" in table
    assert "extrapolated" in table
