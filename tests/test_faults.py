"""Fault injection with real processes: SIGKILLs at random moments, two processes on one
workdir, a changed config, entry-point errors (missing file, misspelt field, unwritable or
file workdir, full disk), sweeps with a changed base config.

The default suite drives a tiny regression task through ``experiments.run`` in a subprocess
(seconds per run); the ``slow`` cases drive the real entry points on ``configs/lqg.py:quick``.
"""

import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from experiments import cli, run

sys.path.insert(0, os.path.dirname(__file__))
from test_train import Regression, regression_config  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The regression task of test_train.py trained by a child process with the entry points' error
# handling; argv: workdir, config overrides as JSON.
DRIVER = """
import json, os, resource, signal, sys
if os.environ.get("FSIZE_LIMIT"):  # a small disk: writes past the limit fail with EFBIG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(os.environ["FSIZE_LIMIT"]),) * 2)
sys.path.insert(0, "tests")
from test_train import Regression, regression_config
from experiments import cli, run
c = regression_config(**json.loads(sys.argv[2]))
with cli.one_line_errors():
    run.run(c, workdir=sys.argv[1], task=Regression(c), progress=False)
print("done", flush=True)
"""
# 30 log lines and 15 checkpoints: a kill lands before, between and inside saves.
LONG = {"num_steps": 60, "log_every": 2, "eval_every": 10, "checkpoint_every": 4}


def driver(workdir, overrides=None, **kw):
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(workdir),
                             json.dumps(overrides or LONG)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def finish(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def results(workdir):
    """metrics.jsonl's rows and final_metrics.json: what a resumed run must reproduce."""
    rows = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    return rows, json.loads((workdir / "final_metrics.json").read_text())


def kill_when(proc, workdir, lines=None, seconds=None):
    """SIGKILL ``proc`` once metrics.jsonl has ``lines`` lines, or after ``seconds``.

    Returns:
        Whether the kill ended it (False: it had already exited).
    """
    t0 = time.monotonic()
    path = workdir / "metrics.jsonl"
    while proc.poll() is None:
        if seconds is not None and time.monotonic() - t0 >= seconds:
            break
        if lines is not None and path.exists() and path.read_text().count("\n") >= lines:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    return proc.wait() == -signal.SIGKILL


def one_error_line(err):
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-3000:]
    return lines[0]


def in_process(workdir, overrides=None):
    """The driver's run, in this process (same program and XLA flags: the same numbers)."""
    c = regression_config(**(overrides or LONG))
    run.run(c, workdir=workdir, task=Regression(c), progress=False)


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    work = tmp_path / "killed"
    assert kill_when(driver(work), work, lines=random.Random(20).randint(1, 34))
    assert not (work / "final_metrics.json").exists()
    rc, out, err = finish(driver(work))
    assert rc == 0, err[-3000:]
    in_process(tmp_path / "full")
    assert results(work) == results(tmp_path / "full")


def test_second_process_on_a_workdir_exits_naming_the_first(tmp_path):
    first = driver(tmp_path, {**LONG, "num_steps": 100000, "checkpoint_every": 1000})
    try:
        while not (tmp_path / "metrics.jsonl").exists():  # the first holds the lock by now
            assert first.poll() is None, first.communicate()[1][-3000:]
            time.sleep(0.05)
        rc, out, err = finish(driver(tmp_path))
        line = one_error_line(err)
        assert rc == 1 and f"in use by another process (pid {first.pid})" in line
        assert first.poll() is None  # the first one trains on
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The killed holder leaves its pid in .lock but no lock: the same workdir resumes.
    assert (tmp_path / ".lock").read_text().strip() == str(first.pid)
    in_process(tmp_path, {**LONG, "num_steps": 2000, "checkpoint_every": 1000})


def main_cli(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "experiments.main", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_misspelt_field_is_one_line_without_traceback(tmp_path):
    r = main_cli("--config=configs/lqg.py:quick", "--config.optim.learning_rate=1e-3",
                 f"--workdir={tmp_path}")
    line = one_error_line(r.stderr)
    assert r.returncode == 2 and line.startswith(
        "error: --config.optim.learning_rate: config.optim has no field 'learning_rate'; "
        "did you mean optim.lr")
    assert not any(tmp_path.iterdir())


def test_flag_problems_are_found_before_absl_parses():
    quick = "--config=configs/lqg.py:quick"
    assert "no file configs/nope.py" in cli.flag_problem(["main", "--config=configs/nope.py"])
    assert "use one of default" in cli.flag_problem(["main", "--config=configs/lqg.py:nonsense"])
    assert "did you mean num_steps" in cli.flag_problem(["main", quick, "--config.num_step=3"])
    assert "did you mean optim.lr" in cli.flag_problem(["main", "--config", "configs/lqg.py",
                                                        "--config.optim.learning_rate", "1"])
    assert cli.flag_problem(["main", quick, "--config.optim.lr=0.1", "--config.seed=2"]) is None


def cli_error(capsys, fn):
    """The ``error:`` line and exit status of ``fn()`` under the entry points' handling."""
    with pytest.raises(SystemExit) as e:
        with cli.one_line_errors():
            fn()
    return one_error_line(capsys.readouterr().err), e.value.code


def test_workdir_that_is_a_file_or_unwritable_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit):
        cli.check_workdir(str(tmp_path / "file"))
    assert "is a file, not a folder" in one_error_line(capsys.readouterr().err)
    line, code = cli_error(capsys, lambda: in_process(tmp_path / "file" / "sub"))
    assert code == 1 and "cannot use the workdir" in line and "Not a directory" in line
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root writes through permissions; an immutable folder stops it
        if subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode:
            pytest.skip("running as root without chattr +i")
    else:
        ro.chmod(0o555)
    try:
        for workdir in (ro, ro / "w"):
            line, code = cli_error(capsys, lambda w=workdir: in_process(w))
            assert code == 1 and "make the workdir writable" in line, line
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(ro)], check=True)
        ro.chmod(0o755)


def test_full_disk_is_one_line_and_the_rerun_resumes(tmp_path, capsys):
    """A file size limit (RLIMIT_FSIZE: writes fail with EFBIG) stands in for a full disk."""
    rc, out, err = finish(driver(tmp_path, env={**os.environ, "FSIZE_LIMIT": "300"}))
    line = one_error_line(err)
    assert rc == 1 and "free space, then rerun the same command" in line, line
    in_process(tmp_path)
    assert results(tmp_path)[1]["members"][0]["metrics"]["count"] == 60
    # Orbax's disk errors come as tensorstore text: the same line, naming the file.
    text = ('OUT_OF_RANGE: Error writing "params.w/0" in OCDBT database at local file "/r/c/": '
            'Failed writing: "/r/c/d/db04": Failed to write 281467 bytes to file 7: No space '
            "left on device [os_error_code='28']")
    line, code = cli_error(capsys, lambda: (_ for _ in ()).throw(ValueError(text)))
    assert line == ("error: cannot write the run's files (/r/c/d/db04): the disk is full "
                    "[errno 28]; free space, then rerun the same command (it resumes from the "
                    "last checkpoint).")


def test_full_tmpfs_is_one_line_and_after_freeing_space_the_run_resumes(tmp_path):
    """A real full disk: a 64 KiB tmpfs (needs the right to mount; skipped without it)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        rc, out, err = finish(driver(disk / "w"))
        line = one_error_line(err)  # a checkpoint's or a log's write: either way, one line
        assert rc == 1 and ("the disk is full [errno 28]" in line
                            or "No space left on device" in line), line
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)  # freed
        rc, out, err = finish(driver(disk / "w"))
        assert rc == 0, err[-3000:]
        in_process(tmp_path / "full")
        assert results(disk / "w") == results(tmp_path / "full")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


@pytest.mark.slow
def test_many_sigkills_at_random_times_resume_identically(tmp_path):
    t0 = time.monotonic()
    rc, out, err = finish(driver(tmp_path / "full"))
    took = time.monotonic() - t0
    assert rc == 0, err[-3000:]
    rng = random.Random(21)
    work = tmp_path / "killed"
    # At random fractions of a whole run's time (start-up, compilation, the loop, a save),
    # then after random numbers of metric lines.
    killed = [kill_when(driver(work), work, seconds=rng.uniform(0.1, 0.9) * took)
              for _ in range(3)]
    for _ in range(3):  # past the lines already there: inside the resumed loop
        log = work / "metrics.jsonl"
        have = log.read_text().count("\n") if log.exists() else 0
        killed.append(kill_when(driver(work), work, lines=rng.randint(min(have + 1, 34), 34)))
    assert sum(killed) >= 4, killed
    rc, out, err = finish(driver(work))
    assert rc == 0, err[-3000:]
    assert results(work) == results(tmp_path / "full")


def sweep_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "experiments.sweep", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_main_sigkilled_at_random_moments_resumes_identically(tmp_path):
    args = ["--config=configs/lqg.py:quick", "--config.num_steps=60", "--config.log_every=5",
            "--config.eval_every=10", "--config.checkpoint_every=10"]
    t0 = time.monotonic()
    r = main_cli(*args, f"--workdir={tmp_path / 'full'}")
    took = time.monotonic() - t0  # kills land at random fractions of a whole run's time
    assert r.returncode == 0, r.stderr[-3000:]
    full = results(tmp_path / "full")
    rng = random.Random(7)
    work = tmp_path / "killed"
    killed = []
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-m", "experiments.main", *args,
                                 f"--workdir={work}"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        killed.append(kill_when(proc, work, seconds=rng.uniform(0.1, 0.9) * took))
    assert sum(killed) >= 2, killed  # most kills land before the run ends
    r = main_cli(*args, f"--workdir={work}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert results(work) == full


@pytest.mark.slow
def test_two_entry_points_started_apart_with_other_learning_rates(tmp_path):
    base = ["-m", "experiments.main", "--config=configs/lqg.py:quick", f"--workdir={tmp_path}",
            "--config.num_steps=3000"]
    first = subprocess.Popen([sys.executable, *base], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(7)
        r = subprocess.run([sys.executable, *base, "--config.optim.lr=0.1"], cwd=ROOT,
                           capture_output=True, text=True, timeout=240)
        line = one_error_line(r.stderr)
        assert r.returncode == 1 and f"pid {first.pid}" in line
        assert first.poll() is None  # the first one trains on, untouched
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()


@pytest.mark.slow
def test_sweep_rerun_with_a_changed_base_config(tmp_path):
    sweep = ["--config=configs/lqg.py:quick", f"--workdir={tmp_path}",
             "--sweep=optim.lr=0.3,0.1", "--config.num_steps=40", "--config.eval_every=20",
             "--config.checkpoint_every=20"]
    r = sweep_cli(*sweep)
    assert r.returncode == 0, r.stderr[-3000:]
    table = (tmp_path / "results.md").read_text()
    r = sweep_cli(*sweep, "--config.seed=1")  # another base config: refused before training
    line = one_error_line(r.stderr)
    assert r.returncode == 1 and "optim.lr=0.3: seed 0 -> 1" in line and "--restart" in line
    assert (tmp_path / "results.md").read_text() == table
    r = sweep_cli(*sweep[:-3], "--config.num_steps=60", "--config.eval_every=20",
                  "--config.checkpoint_every=20")  # longer: every point extends
    assert r.returncode == 0 and r.stdout.count(": training") == 2, r.stderr[-3000:]
    r = sweep_cli(*sweep, "--config.seed=1", "--restart")
    assert r.returncode == 0 and r.stdout.count(": training") == 2, r.stderr[-3000:]
    assert json.loads((tmp_path / "optim.lr=0.1" / "identity.json").read_text())[
        "fields"]["seed"] == 1
    # A diverging point is a failed row; the sweep finishes the others and exits 1.
    shutil.rmtree(tmp_path)
    r = sweep_cli(*sweep[:2], "--sweep=optim.lr=1e6,0.3", *sweep[3:])
    line = one_error_line(r.stderr)
    assert r.returncode == 1 and "1 of 2 sweep points failed (optim.lr=1000000.0)" in line
    assert (tmp_path / "optim.lr=0.3" / "final_metrics.json").exists()
    assert "failed: non-finite" in (tmp_path / "results.md").read_text()


@pytest.mark.slow
def test_main_refuses_a_changed_config_and_offers_fork_and_restart(tmp_path):
    args = ["--config=configs/lqg.py:quick", "--config.num_steps=20", "--config.log_every=10",
            "--config.eval_every=10", "--config.checkpoint_every=10"]
    old, new = tmp_path / "old", tmp_path / "new"
    assert main_cli(*args, f"--workdir={old}").returncode == 0
    config = (old / "config.json").read_bytes()
    r = main_cli(*args, "--config.optim.lr=0.1", f"--workdir={old}")
    line = one_error_line(r.stderr)
    assert r.returncode == 1 and "optim.lr 0.3 -> 0.1" in line and "--fork_from" in line
    assert (old / "config.json").read_bytes() == config
    r = main_cli(*args, "--config.num_steps=30", "--config.optim.lr=0.1", f"--workdir={new}",
                 f"--fork_from={old}")
    assert r.returncode == 0 and "forked from" in r.stdout, r.stderr[-3000:]
    assert json.loads((new / "identity.json").read_text())["forked_from"]["step"] == 20
    steps = [json.loads(x)["step"] for x in (new / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 30
    r = main_cli(*args, "--config.optim.lr=0.1", f"--workdir={old}", "--restart")
    assert r.returncode == 0 and "--restart: deleted" in r.stdout, r.stderr[-3000:]
    assert json.loads((old / "config.json").read_text())["optim"]["lr"] == 0.1
