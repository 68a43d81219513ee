"""Several processes, one run: jax.distributed from the environment (rgrad.distributed).

The main test starts two processes on localhost (CPU, gloo collectives) with only the three
``JAX_*`` variables set and checks that they end with the single-process run's final metrics,
written once, by process 0.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from experiments import run
from rgrad import distributed

ROOT = pathlib.Path(__file__).resolve().parents[1]
LQG = "configs/lqg.py:quick"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _two_processes(workdir, *flags, timeout=400) -> list[str]:
    """Run experiments.main as processes 0 and 1 of one job; return their outputs."""
    port = _free_port()
    procs = []
    for i in range(2):
        env = {**os.environ, "JAX_COORDINATOR_ADDRESS": f"localhost:{port}",
               "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": str(i)}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "experiments.main", f"--config={LQG}",
             "--config.num_seeds=2", f"--workdir={workdir}", *flags],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=timeout)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-4000:]
    return outs


def _metrics(workdir):
    return [m["metrics"] for m in json.loads((workdir / "final_metrics.json").read_text())[
        "members"]]


def _close(got, want, rtol=1e-6):
    # One device's program holds both members, two devices' one each, which may reassociate
    # a float32 sum (measured: 8e-8 relative on one of the LQG metrics): equal to 1e-6.
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.keys() == w.keys()
        for k in w:
            assert abs(g[k] - w[k]) <= rtol * abs(w[k]), (k, g[k], w[k])


def test_two_processes_give_the_single_process_final_metrics(tmp_path):
    single = run.run(LQG, {"num_seeds": 2}, workdir=tmp_path / "single")
    outs = _two_processes(tmp_path / "multi")
    want = _metrics(tmp_path / "single")
    got = _metrics(tmp_path / "multi")
    _close(got, want)
    assert got[0] != got[1]  # two seeds, two members: a swapped or repeated member fails
    # One process with two host devices runs the same two programs: equal bit for bit.
    flags = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2")
    r = subprocess.run([sys.executable, "-m", "experiments.main", f"--config={LQG}",
                        "--config.num_seeds=2", f"--workdir={tmp_path / 'two_devices'}"],
                       cwd=ROOT, env={**os.environ, "XLA_FLAGS": flags.strip()},
                       capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    assert _metrics(tmp_path / "two_devices") == got
    assert [m["metrics"] for m in single.output["members"]] == want
    # Process 0 alone wrote the logs: as many metric rows as the single process wrote.
    rows = lambda d: (d / "metrics.jsonl").read_text().splitlines()
    assert len(rows(tmp_path / "multi")) == len(rows(tmp_path / "single"))
    assert "final" in outs[0] and "final" not in outs[1]
    # The other processes' writer returns the same summary without writing.
    member_list = [{k: v for k, v in m.items() if k != "metrics"} for m in single.output[
        "members"]]
    quiet = distributed.QuietWriter()
    quiet.note("ignored")  # every other writer method is a no-op
    got = quiet.write_final([m["metrics"] for m in single.output["members"]], member_list)
    assert got == {"members": single.output["members"], "summary": single.output["summary"]}


@pytest.mark.slow
def test_two_processes_resume_from_their_checkpoint(tmp_path):
    # A constant learning rate: the first 50 steps do not depend on the run's length.
    want = _metrics(run.run(LQG, {"num_seeds": 2, "optim.schedule": "constant"},
                            workdir=tmp_path / "single").workdir)
    constant = "--config.optim.schedule=constant"
    _two_processes(tmp_path / "multi", constant, "--config.num_steps=50")
    outs = _two_processes(tmp_path / "multi", constant)
    assert "resumed from checkpoint at step 50" in outs[0]
    _close(_metrics(tmp_path / "multi"), want)


def test_environment_checked_before_joining(monkeypatch):
    for k in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID",
              "SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    assert distributed.initialize() is False and distributed.cluster_processes() == 1
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "localhost:1")
    with pytest.raises(ValueError, match="not JAX_NUM_PROCESSES, JAX_PROCESS_ID; set all"):
        distributed.initialize()
    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    monkeypatch.setenv("JAX_PROCESS_ID", "0")
    with pytest.raises(ValueError, match="must be integers"):
        distributed.initialize()
    monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
    monkeypatch.setenv("JAX_PROCESS_ID", "2")
    with pytest.raises(ValueError, match=r"JAX_PROCESS_ID=2 must be in \[0, "):
        distributed.initialize()
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("SLURM_STEP_NODELIST", "n1")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    assert distributed.cluster_processes() == 4
    assert not jax.distributed.is_initialized()


def test_host_read_of_local_arrays():
    tree = {"a": jax.numpy.arange(3), "b": np.ones(2)}
    got = distributed.host_read(tree)
    assert isinstance(got["a"], np.ndarray) and got["a"].tolist() == [0, 1, 2]
    assert distributed.local_view(tree) is tree  # one process: untouched
