"""Smoke test: the estimators benchmark runs at tiny sizes and reports each estimator."""
from experiments import bench_estimators


def test_quick_run_reports_each_estimator():
    assert bench_estimators.NAME == "estimators"
    table = bench_estimators.run(quick=True)
    for name in ("pathwise", "score_function", "measure_valued"):
        assert f"| {name} |" in table
    assert "extrapolated" in table
