"""Run identity, the workdir lock, --restart/--fork_from and the sweep's point checks (in process).

The subprocess faults (SIGKILLs, concurrent processes, entry-point errors) are in test_faults.py.
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from experiments import registry, run, sweep
from rgrad import config_checks, metrics_io, train
from rgrad import workdir as run_dir

sys.path.insert(0, os.path.dirname(__file__))
from test_train import Regression, regression_config  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def fit(c, workdir, **kw):
    return run.run(c, workdir=workdir, task=Regression(c), **kw).output


def files(workdir):
    return {p.relative_to(workdir).as_posix(): p.read_bytes()
            for p in sorted(workdir.rglob("*")) if p.is_file() and p.name != ".lock"}


def test_changed_config_is_refused_and_nothing_changes(tmp_path):
    fit(regression_config(num_steps=40), tmp_path)
    before = files(tmp_path)
    changed = regression_config(num_steps=40, seed=3, optim=dict(lr=0.01))
    with pytest.raises(run_dir.RunIdentityError) as e:
        fit(changed, tmp_path)
    msg = str(e.value)
    assert "\n" not in msg
    assert "optim.lr 0.05 -> 0.01" in msg and "seed 0 -> 3" in msg
    assert f"--fork_from={tmp_path}" in msg and "--restart" in msg and "new --workdir" in msg
    assert files(tmp_path) == before  # config.json, metrics, checkpoints untouched
    # What a resume may change: length, intervals, artifacts; the run extends.
    longer = regression_config(num_steps=60, eval_every=20, checkpoint_every=10,
                               keep_checkpoints=3, artifacts=False)
    out = fit(longer, tmp_path)
    assert out["members"][0]["metrics"]["count"] == 60
    assert json.loads((tmp_path / "config.json").read_text())["num_steps"] == 60
    assert json.loads((tmp_path / "identity.json").read_text())["fields"]["optim.lr"] == 0.05


def test_identity_ignores_only_resumable_fields():
    base = run_dir.identity_fields(regression_config())
    for field, value in [("num_steps", 7), ("num_epochs", 2), ("log_every", 5),
                         ("eval_every", 5), ("checkpoint_every", 5), ("keep_checkpoints", 9),
                         ("artifacts", False), ("data", {"data_dir": "/x", "download": False})]:
        assert run_dir.identity_fields(regression_config(**{field: value})) == base, field
    for field, value in [("seed", 1), ("batch_size", 8), ("num_seeds", 2), ("nan_at", 3),
                         ("vmap_sweep", "lr=0.1"), ("optim", {"lr": 0.1}),
                         ("optim", {"grad_clip": 1.0})]:
        changed = run_dir.identity_fields(regression_config(**{field: value}))
        assert run_dir.digest(changed) != run_dir.digest(base), field


def test_workdir_from_before_identities_is_adopted(tmp_path, capsys):
    c = regression_config(num_steps=40)
    fit(c, tmp_path)
    (tmp_path / "identity.json").unlink()  # a workdir written before this change
    with pytest.raises(run_dir.RunIdentityError, match=r"optim.lr 0.05 -> 0.02"):
        fit(regression_config(num_steps=40, optim=dict(lr=0.02)), tmp_path)
    assert not (tmp_path / "identity.json").exists()
    fit(regression_config(num_steps=60), tmp_path)
    assert "predates run identities" in capsys.readouterr().out
    assert json.loads((tmp_path / "identity.json").read_text())["fields"]["optim.lr"] == 0.05


def test_a_field_added_to_the_config_code_is_noted_not_refused(tmp_path):
    c = regression_config(num_steps=20)
    fit(c, tmp_path)
    record = json.loads((tmp_path / "identity.json").read_text())
    del record["fields"]["optim.momentum"]  # as if the field was added after the run started
    (tmp_path / "identity.json").write_text(json.dumps(record))
    note = run_dir.check_identity(tmp_path, regression_config(num_steps=40))
    assert "optim.momentum (absent) -> 0.0" in note and "not compared" in note


def test_an_attempt_without_checkpoints_starts_afresh_under_a_new_config(tmp_path, capsys):
    with pytest.raises(train.NonFiniteError):
        fit(regression_config(num_steps=40, nan_at=3), tmp_path)  # diverged before step 20
    out = fit(regression_config(num_steps=40, optim=dict(lr=0.01)), tmp_path)
    assert "held no checkpoint of its earlier config (nan_at 3 -> -1, optim.lr 0.05 -> 0.01)" \
        in capsys.readouterr().out
    assert out["members"][0]["metrics"]["count"] == 40
    assert json.loads((tmp_path / "identity.json").read_text())["fields"]["optim.lr"] == 0.01


LOCK_HOLDER = """
import sys, time
from rgrad import workdir
with workdir.locked(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_second_process_is_refused_and_a_dead_holder_frees_the_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(tmp_path)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        c = regression_config(num_steps=20)
        with pytest.raises(run_dir.WorkdirLockedError,
                           match=rf"in use by another process \(pid {holder.pid}\)"):
            fit(c, tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    fit(c, tmp_path)  # the kernel dropped the dead holder's lock
    assert (tmp_path / "final_metrics.json").exists()
    assert (tmp_path / ".lock").read_text() == ""  # released: no pid left behind


def test_restart_deletes_the_run_and_only_runs(tmp_path, capsys):
    fit(regression_config(num_steps=20), tmp_path)
    (tmp_path / "samples.png").write_bytes(b"old artifact")
    out = fit(regression_config(num_steps=20, seed=5), tmp_path, restart=True)
    said = re.search(r"--restart: deleted (.*) in ", capsys.readouterr().out).group(1)
    assert {"checkpoints/", "config.json", "data.json", "final_metrics.json", "identity.json",
            "metrics.jsonl", "samples.png"} <= set(said.split(", "))
    assert not (tmp_path / "samples.png").exists()
    assert json.loads((tmp_path / "identity.json").read_text())["fields"]["seed"] == 5
    assert out["members"][0]["metrics"]["count"] == 20  # from step 0 again, not resumed
    assert [r["step"] for r in metrics_io.read_metrics(tmp_path) if r["split"] == "train"] \
        == [10, 20]
    notes = tmp_path.parent / "notes"
    notes.mkdir()
    (notes / "mine.txt").write_text("not a run")
    with pytest.raises(ValueError, match="holds no run"):
        fit(regression_config(num_steps=20), notes, restart=True)
    assert (notes / "mine.txt").exists()


def test_fork_continues_the_full_state_under_a_new_config(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    fit(regression_config(num_steps=40), a)
    out = fit(regression_config(num_steps=60, optim=dict(lr=0.01)), b, fork_from=a)
    assert "forked from" in capsys.readouterr().out
    record = json.loads((b / "identity.json").read_text())
    assert record["forked_from"]["step"] == 40
    assert record["forked_from"]["changed"] == ["optim.lr 0.05 -> 0.01"]
    assert record["fields"]["optim.lr"] == 0.01
    assert out["members"][0]["metrics"]["count"] == 60  # state (count) carried over from a
    rows_a = metrics_io.read_metrics(a)
    rows_b = metrics_io.read_metrics(b)
    assert [r for r in rows_b if r["step"] <= 40] == rows_a
    assert max(r["step"] for r in rows_b) == 60
    fit(regression_config(num_steps=60, optim=dict(lr=0.01)), b)  # resumes b as forked
    with pytest.raises(ValueError, match="not empty"):
        fit(regression_config(num_steps=60), b, fork_from=a)
    with pytest.raises(ValueError, match="not a run's workdir"):
        fit(regression_config(), tmp_path / "c", fork_from=tmp_path / "nothing")
    # Another optimizer chain cannot take the checkpoint's state: refused, the fork undone.
    with pytest.raises(ValueError, match=r"does not fit this config's training state"):
        fit(regression_config(num_steps=60, optim=dict(name="sgd")), tmp_path / "d", fork_from=a)
    assert [p.name for p in (tmp_path / "d").iterdir()] == [".lock"]


class BrokenArtifacts(Regression):
    def artifacts(self, params, state, *, key, workdir):
        raise OSError(28, "No space left on device", str(workdir / "samples.png"))


def test_final_metrics_written_after_the_artifacts(tmp_path):
    c = regression_config(num_steps=20)
    with pytest.raises(OSError):
        train.train_and_evaluate(c, tmp_path, task=BrokenArtifacts(c), progress=False)
    assert not (tmp_path / "final_metrics.json").exists()  # so a sweep does not skip it


@pytest.fixture
def regression_sweep(monkeypatch):
    monkeypatch.setattr(registry, "make_task", Regression)  # config.experiment is "test"
    monkeypatch.setattr(registry, "check_config", config_checks.check_config)
    trained = []
    original = train.train_and_evaluate

    def spy(cfg, wd, task=None, progress=True):
        trained.append(pathlib.Path(wd).name)
        return original(cfg, wd, task or Regression(cfg), progress=False)

    monkeypatch.setattr(train, "train_and_evaluate", spy)
    return trained


def test_sweep_refuses_points_of_a_changed_base_config(tmp_path, regression_sweep):
    points = [{"optim.lr": 0.05}, {"optim.lr": 0.02}]
    sweep.run_sweep(regression_config(num_steps=20), tmp_path, points, progress=False)
    assert regression_sweep == ["optim.lr=0.05", "optim.lr=0.02"]
    before = files(tmp_path)
    with pytest.raises(ValueError, match=r"2 sweep point\(s\).*optim.lr=0.05: seed 0 -> 1.*"
                                         r"nothing was trained.*--restart"):
        sweep.run_sweep(regression_config(num_steps=20, seed=1), tmp_path, points)
    assert files(tmp_path) == before and len(regression_sweep) == 2
    # A longer base config is not "finished": every point extends from its checkpoint.
    rows = sweep.run_sweep(regression_config(num_steps=40), tmp_path, points, progress=False)
    assert regression_sweep[2:] == ["optim.lr=0.05", "optim.lr=0.02"]
    assert [r["count"] for r in rows] == [40.0, 40.0]
    rows = sweep.run_sweep(regression_config(num_steps=40, seed=1), tmp_path, points,
                           progress=False, restart=True)
    assert len(regression_sweep) == 6
    assert json.loads((tmp_path / "optim.lr=0.02" / "identity.json").read_text())[
        "fields"]["seed"] == 1


def test_sweep_checks_every_point_first_and_survives_divergence(tmp_path, regression_sweep):
    with pytest.raises(ValueError, match=r"sweep point batch_size=0: .*batch_size"):
        sweep.run_sweep(regression_config(num_steps=20), tmp_path,
                        [{"batch_size": 16}, {"batch_size": 0}], progress=False)
    assert regression_sweep == []  # nothing trained before the bad point was found
    points = [{"nan_at": 7}, {"nan_at": -1}]
    rows = sweep.run_sweep(regression_config(num_steps=20), tmp_path, points, progress=False)
    assert re.match(r"failed: non-finite loss at step \d+$", rows[0]["status"])
    assert rows[1]["status"] == "ok" and rows[1]["count"] == 20.0
    table = (tmp_path / "results.md").read_text()
    assert "failed: non-finite" in table and "| -1 | ok |" in table


def test_unknown_override_names_the_closest_fields():
    c = run.resolve(regression_config())
    with pytest.raises(ValueError, match=r"config.optim has no field 'learning_rate'; did you "
                                         r"mean optim.lr\b"):
        run.apply_overrides(c, {"optim.learning_rate": 1e-3})
    assert run.closest_fields(c, "num_step")[0] == "num_steps"
    assert run.closest_fields(c, "lr") == ["optim.lr"]
    assert run.field_problem(c, "optim.lr") is None


def test_lock_is_released_on_error_and_reentrant(tmp_path):
    with pytest.raises(KeyError):
        with run_dir.locked(tmp_path):
            with run_dir.locked(tmp_path):  # the entry point, then the loop
                pass
            raise KeyError("a failure inside the run")
    t0 = time.perf_counter()
    with run_dir.locked(tmp_path):
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
    assert time.perf_counter() - t0 < 1
