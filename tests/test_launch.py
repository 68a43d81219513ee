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


POINT = """
import json, sys
from experiments import launch, run
config = run.resolve("configs/lqg.py:quick", {"num_seeds": 2, "optim.lr": 0.1})
out = launch.train_point(config, sys.argv[1], restart=True)
print("RESULT", json.dumps(out["members"][0]["metrics"]))
"""


@pytest.mark.slow
def test_a_job_of_two_tasks_restarts_a_stale_point_once(tmp_path):
    """--slurm_tasks=2: both tasks run train_point as one multi-host run; process 0 alone
    empties the stale point (the other would find it locked)."""
    import json
    import os
    import subprocess
    import sys

    from rgrad import workdir as run_dir

    stale = run.resolve(BASE, {"optim.lr": 0.3})
    folder = tmp_path / "point"
    folder.mkdir()
    run_dir.write_identity(folder, stale)  # a point trained under another config
    (folder / "metrics.jsonl").write_text("{}\n")
    env = dict(os.environ, JAX_COORDINATOR_ADDRESS="localhost:12391", JAX_NUM_PROCESSES="2")
    procs = [subprocess.Popen([sys.executable, "-c", POINT, str(folder)],
                              cwd=pathlib.Path(__file__).resolve().parents[1],
                              env={**env, "JAX_PROCESS_ID": str(i)}, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for i in range(2)]
    outs = [p.communicate(timeout=400)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs[0][-3000:] + outs[1][-3000:]
    got = [json.loads(o.split("RESULT", 1)[1]) for o in outs]
    assert got[0] == got[1]
    assert not run_dir.identity_changes(folder, run.resolve(
        BASE, {"num_seeds": 2, "optim.lr": 0.1}))
    assert "{}" not in (folder / "metrics.jsonl").read_text().splitlines()
