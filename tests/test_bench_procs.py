"""The benchmark harness: one process per measurement, ratios per round, peers optional.

Fast (a few child processes at tiny sizes). Tests that need the peers' virtualenv
(``make bench-env``: torch, optax 0.2.6) skip with a message when it is absent.
"""

import math

import pytest

from experiments.bench import _procs as P
from experiments.bench import driver, memory, ode_inference


def _results(key, xs, load=1.0):
    return [{key: x, "load": load, "rss_mb": 100.0 + x} for x in xs]


def test_ratio_is_per_round_median_and_range():
    a, b = _results("t", [2.0, 6.0, 3.0]), _results("t", [1.0, 2.0, 1.0])
    assert P.ratio(a, b, "t") == "3.00 (2.00-3.00)"  # per-round 2, 3, 3; not 11/4
    assert P.ratio(a[:1], b, "t") == "2.00"  # a side measured in fewer rounds pairs its own
    assert P.spread(a, "t", ".1f") == "3.0 (2.0-6.0)"
    assert P.rss(a) == "106"
    assert P.loads({"a": a, "b": _results("t", [1.0], load=3.5)}) == "1.0-3.5"


def test_measure_runs_a_child_pinned_and_reports_its_memory_and_the_load(monkeypatch):
    monkeypatch.setenv("RGRAD_BENCH_CPUS", "0")
    r = P.measure(P.main_python(), "matmul_jax", {"n": 64, "repeats": 2})
    assert r["cpus"] == 1  # pinned to core 0
    assert r["gflops"] > 0 and math.isfinite(r["gflops"])
    assert 20 < r["rss_mb"] < 4000  # the child's own peak, in MB
    assert r["proc_s"] > 0 and r["load"] >= 0


def test_a_child_past_its_limit_is_stopped_with_its_peak_memory_so_far():
    with pytest.raises(P.TimedOut, match="ran past 3 s") as e:
        P.measure(P.main_python(), "matmul_jax", {"n": 2048, "repeats": 10**6}, timeout=3)
    assert e.value.peak_mb > 10  # VmHWM of the live child


def test_measure_names_the_failing_child():
    with pytest.raises(RuntimeError, match="no_such_kind"):
        P.measure(P.main_python(), "no_such_kind", {})


def test_interleaved_alternates_order_and_limits_rounds(monkeypatch):
    calls = []
    monkeypatch.setattr(P, "measure", lambda py, kind, args: (
        calls.append(args["side"]) or {"x": 1.0, "load": 0.0}))
    res = P.interleaved({"a": ("py", "k", {"side": "a"}), "b": ("py", "k", {"side": "b"}),
                         "c": ("py", "k", {"side": "c"}, 1)}, rounds=3, log=lambda *a, **k: None)
    assert calls == ["a", "b", "c", "b", "a", "a", "b"]
    assert [len(res[k]) for k in "abc"] == [3, 3, 1]


def test_bad_core_list_is_a_one_line_value_error(monkeypatch):
    monkeypatch.setenv("RGRAD_BENCH_CPUS", "first")
    with pytest.raises(ValueError, match="RGRAD_BENCH_CPUS"):
        P.pinned_cpus()


def test_missing_peers_give_none_not_an_error(monkeypatch, tmp_path):
    monkeypatch.setattr(P, "BENCH_VENV", tmp_path / "absent")
    assert P.peer_python("no_such_peer_module_xyz") is None
    assert "make bench-env" in P.PEER_HINT


def test_driver_lists_modules_not_helpers_and_rejects_unknown_names():
    names = driver.available()
    assert set(driver.SECTIONS) <= set(names)
    assert not any(n.startswith("_") for n in names)
    with pytest.raises(ValueError, match="no_such_bench"):
        driver.main(["--only=no_such_bench", "--out=/dev/null"])


def test_memory_covers_every_config_and_ode_gap_is_in_nuts_sds():
    assert {"vae", "lqg", "pendulum", "ode_inference"} <= set(memory.configs())
    assert "base" not in memory.configs()
    ref = {"mean": [1.0, 10.0], "sd": [0.5, 2.0]}
    assert ode_inference.gap({"mean": [1.05, 9.0]}, ref) == pytest.approx(0.5)


def _peer(module):
    python = P.peer_python(module)
    if python is None or python == P.main_python() and module == "optax.monte_carlo":
        pytest.skip(f"{module}: {P.PEER_HINT}")
    return python


def test_torch_peer_runs_in_its_own_process():
    r = P.measure(_peer("torch"), "torch_matmul", {"n": 64, "repeats": 2})
    assert r["gflops"] > 0 and r["rss_mb"] > 20


def test_optax_peer_and_rgrad_give_jacobians_timings_and_floors():
    for lib, python, est, n in (("optax", _peer("optax.monte_carlo"), "pathwise", 64),
                                ("rgrad", P.main_python(), "measure_valued", 16)):
        r = P.measure(python, "mc", {"lib": lib, "cases": [[est, n]], "dim": 4, "repeats": 1})
        assert r[f"{est}@{n}_s"] > 0 and r[f"{est}@{n}_floor_s"] > 0
        assert r["jax"].startswith("0.7") == (lib == "optax")


def test_a_child_can_be_given_its_own_cores(monkeypatch):
    monkeypatch.setenv("RGRAD_BENCH_CPUS", "0")
    r = P.measure(P.main_python(), "matmul_jax", {"n": 32, "repeats": 1}, cpus="")
    assert r["cpus"] == len(__import__("os").sched_getaffinity(0))  # "" overrides: unpinned


def test_memory_runs_side_by_side_on_distinct_cores(monkeypatch):
    import os
    import threading
    import time

    active, seen, lock = set(), [], threading.Lock()

    def fake(python, kind, args, timeout, cpus):
        with lock:
            assert cpus not in active  # never two children on one core
            active.add(cpus)
            seen.append(cpus)
        time.sleep(0.05)
        with lock:
            active.discard(cpus)
        return {"members": 1, "rss_mb": 10.0, "proc_s": 0.05, "load": 0.0}

    monkeypatch.setattr(P, "measure", fake)
    text = memory.run(quick=True)
    assert text.count("| 10 |") == len(memory.QUICK)
    if len(os.sched_getaffinity(0)) >= 2:
        assert len(set(seen)) == 2  # both cores used


def test_the_load_warning_counts_other_processes_not_the_benchmarks_children():
    import subprocess
    import sys

    start = driver._cpu_seconds()
    subprocess.run([sys.executable, "-c", "import time\nt=time.process_time()\n"
                    "while time.process_time() - t < 0.6: pass"], check=True)
    end = driver._cpu_seconds()
    assert end[1] - start[1] >= 0.6  # the child's CPU time is ours, not another process's
    assert driver._others_cores((10.0, 2.0), (14.0, 5.0), 2.0) == pytest.approx(0.5)
