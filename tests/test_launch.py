"""Sweeps through submitit (experiments/launch.py), tried with submitit's local executor.

The jobs train in their own processes; the sweep keeps its bookkeeping: the results table
equals the one a local sweep writes, a diverged point is reported as failed, and a rerun skips
the finished points without submitting anything.
"""

import pathlib

import pytest

from experiments import launch, run, sweep

BASE = "configs/lqg.py:quick"
OVERRIDES = {"num_steps": 20, "eval_every": 10, "checkpoint_every": 10, "log_every": 10}


def test_sweep_points_as_submitit_jobs(tmp_path):
    base = run.resolve(BASE, OVERRIDES)
    points = [{"optim.lr": 0.3}, {"optim.lr": 1e12}]  # the second diverges
    local = launch.Launcher("submitit_local", tmp_path / "jobs", time_min=10, cpus=1)
    submitted = []
    train = local.train
    local.train = lambda jobs: submitted.append([j[1].name for j in jobs]) or train(jobs)
    rows = sweep.run_sweep(base, tmp_path / "sweep", points, progress=False, launcher=local)
    assert submitted == [["optim.lr=0.3", "optim.lr=1000000000000.0"]]
    assert rows[0]["status"] == "ok" and rows[1]["status"].startswith("failed: non-finite")
    assert (tmp_path / "sweep" / "results.md").read_text().count("\n") == 4
    assert list((tmp_path / "jobs").glob("*_log.err"))  # the jobs' logs

    # The same point trained here, in this process: the same table row.
    want = sweep.run_sweep(base, tmp_path / "here", points[:1], progress=False)
    assert rows[0] == want[0]

    # Rerun: the finished point is skipped, nothing is submitted.
    again = sweep.run_sweep(base, tmp_path / "sweep", points[:1], progress=False,
                            launcher=local)
    assert submitted[1] == [] and again == rows[:1]


def test_launcher_options_checked(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="launcher 'pbs' is unknown; use local, slurm"):
        launch.Launcher("pbs", tmp_path)
    with pytest.raises(ValueError, match="--slurm_time=0 must be at least 1"):
        launch.Launcher("slurm", tmp_path, time_min=0)
    with pytest.raises(ValueError, match="--launcher=slurm: Could not detect .srun"):
        launch.Launcher("slurm", tmp_path)
    import submitit.slurm.slurm

    monkeypatch.setattr(submitit.slurm.slurm.SlurmExecutor, "affinity", lambda self: 1)
    ex = launch.Launcher("slurm", pathlib.Path(tmp_path), partition="gpu", gpus=2,
                         parallel=3).executor
    params = ex._executor.parameters
    assert params["partition"] == "gpu" and params["gpus_per_node"] == 2
    assert params["array_parallelism"] == 3


@pytest.mark.slow
def test_gpu_check_script_runs_in_tiny_mode(tmp_path):
    """experiments/tools/gpu_check.py end to end on the CPU (tests, rates, IWAE run, JSON)."""
    import json
    import math
    import subprocess
    import sys

    out = tmp_path / "gpu_check.json"
    r = subprocess.run([sys.executable, "-m", "experiments.tools.gpu_check", "--tiny",
                        f"--out={out}"], cwd=pathlib.Path(__file__).resolve().parents[1],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    got = json.loads(out.read_text())
    assert got["tests"]["counts"]["passed"] > 0 and not got["tests"]["failed"]
    assert set(got["steps_per_sec"]) == {"vae", "diffusion", "iwae_k50"}
    assert all(v > 0 for v in got["steps_per_sec"].values())
    assert got["iwae_k50_run"]["steps"] == 10
    assert math.isfinite(got["iwae_k50_run"]["metrics"]["test_nll_k50"])
    assert "| VAE steps/s |" in r.stdout
