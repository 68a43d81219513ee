"""The shared loop: resume equality, NaN guard, recompile guard, seeds, sweeps, errors."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import base
from experiments import registry, sweep
from rgrad import evaluation, metrics_io, train
from rgrad.task import Task

ROOT = pathlib.Path(__file__).resolve().parents[1]


class Regression(Task):
    """Noisy linear regression on a fixed synthetic dataset; optional NaN at a given step."""

    def dataset(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(256, 3)).astype(np.float32)
        y = x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.1 * rng.normal(size=256)
        return {"x": x, "y": y.astype(np.float32)}

    def init(self, key):
        return {"w": 0.1 * jax.random.normal(key, (3,))}, {"count": jnp.zeros((), jnp.int32)}

    def hparams(self):
        return {"noise": 0.1}

    def loss(self, params, state, batch, *, key, step, hparams):
        # A sampled perturbation, so the run depends on the per-step keys.
        w = params["w"] + hparams["noise"] * jax.random.normal(key, (3,))
        loss = jnp.mean((batch["x"] @ w - batch["y"]) ** 2)
        loss = jnp.where(step == self.config.nan_at, jnp.nan, loss)
        return loss, ({"w0": w[0]}, {"count": state["count"] + 1})

    def evaluate(self, params, state, *, key):
        # Pure JAX (the loop jits and vmaps it); the loop converts to host floats.
        return {"w_err": jnp.linalg.norm(params["w"] - jnp.array([1.0, -2.0, 0.5])),
                "count": state["count"].astype(jnp.float32)}


def regression_config(**kw):
    c = base.get_config()
    c.experiment = "test"
    c.num_steps = 60
    c.batch_size = 32
    c.log_every = 10
    c.eval_every = 30
    c.checkpoint_every = 20
    c.optim.lr = 0.05
    c.nan_at = -1
    c.update(kw)
    c.lock()
    return c


def run(c, workdir):
    return train.train_and_evaluate(c, workdir, task=Regression(c), progress=False)


def test_trains_and_compiles_once(tmp_path):
    out = run(regression_config(), tmp_path)
    assert out["compilations"] == 1  # six chunks, one trace
    m = out["members"][0]["metrics"]
    assert m["w_err"] < 0.2 and m["count"] == 60
    rows = metrics_io.read_metrics(tmp_path)
    assert [r["step"] for r in rows] == list(range(10, 61, 10))
    assert (tmp_path / "config.json").exists() and list((tmp_path / "tb").iterdir())


def test_config_untouched_and_epochs_resolved(tmp_path):
    """num_epochs sets the run's length; the caller's config keeps its num_steps."""
    c = regression_config(num_epochs=5)  # 256 rows / batch 32 = 8 steps per epoch
    out = run(c, tmp_path)
    assert c.num_steps == 60 and c.num_epochs == 5 and out["members"][0]["metrics"]["count"] == 40
    assert json.loads((tmp_path / "config.json").read_text())["num_steps"] == 40
    assert [r["step"] for r in metrics_io.read_metrics(tmp_path)] == [10, 20, 30, 40]


def test_default_final_evaluation_is_the_last_periodic_one(tmp_path, monkeypatch):
    """A task without its own final_evaluate: one program, and the final report reuses the
    evaluation at the last step instead of running it again (same key, same numbers)."""
    made = []

    def recording(task):
        made.append(real(task))
        return made[-1]

    real = evaluation.member_evaluators
    monkeypatch.setattr(evaluation, "member_evaluators", recording)
    out = run(regression_config(), tmp_path)
    evaluate, final_evaluate = made[0]
    assert final_evaluate is evaluate and evaluate.calls == 2  # steps 30 and 60, not again
    last = [r for r in metrics_io.read_metrics(tmp_path, "eval") if r["step"] == 60]
    assert last and out["members"][0]["metrics"]["w_err"] == last[0]["w_err"]

    class OwnFinal(Regression):
        def final_evaluate(self, params, state, *, key):
            return self.evaluate(params, state, key=key)

    evaluate, final_evaluate = evaluation.member_evaluators(OwnFinal(regression_config()))
    assert final_evaluate is not evaluate  # a task's own final report is its own program


def test_evaluation_compiled_once_for_all_members(tmp_path):
    """evaluate/final_evaluate: one program each, vmapped; member i's key as when alone."""
    c = regression_config(num_seeds=3)
    out = run(c, tmp_path)
    assert out["eval_compilations"] == {"evaluate": 1, "final_evaluate": 1}
    assert len(metrics_io.read_metrics(tmp_path, "eval")) == 2 * 3  # steps 30 and 60
    task, ts, key = Regression(c), out["train_state"], jax.random.key(c.seed)
    for i, m in enumerate(out["members"]):
        k = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(key, 2**31 - 1), 60), i)
        alone = jax.jit(task.final_evaluate)(train.member_slice(ts.params, i),
                                             train.member_slice(ts.state, i), key=k)
        assert list(m["metrics"]) == ["w_err", "count"]  # the task's order, not sorted
        np.testing.assert_allclose(m["metrics"]["w_err"], float(alone["w_err"]), rtol=1e-6)
        assert m["metrics"]["count"] == float(alone["count"]) == 60


def test_resume_after_kill_is_bit_identical(tmp_path, monkeypatch):
    c = regression_config()
    run(c, tmp_path / "full")
    # Kill the run after it logged step 50 but before its checkpoint at step 60.
    original = metrics_io.MetricWriter.write_train

    def dying(self, step, *a, **k):
        original(self, step, *a, **k)
        if step == 50:
            raise KeyboardInterrupt

    monkeypatch.setattr(metrics_io.MetricWriter, "write_train", dying)
    with pytest.raises(KeyboardInterrupt):
        run(c, tmp_path / "killed")
    monkeypatch.setattr(metrics_io.MetricWriter, "write_train", original)
    assert max(r["step"] for r in metrics_io.read_metrics(tmp_path / "killed")) == 50
    resumed = run(c, tmp_path / "killed")
    full = json.loads((tmp_path / "full" / "final_metrics.json").read_text())
    assert resumed["members"] == full["members"]
    assert (metrics_io.read_metrics(tmp_path / "killed")
            == metrics_io.read_metrics(tmp_path / "full"))


class ShiftedRegression(Regression):
    """The same task on other data: what a resume after a data fallback would see."""

    def dataset(self):
        d = super().dataset()
        return {"x": d["x"][:128], "y": d["y"][:128] + 1.0}


def test_resume_on_other_data_is_refused_and_changes_nothing(tmp_path):
    c = regression_config(num_steps=40)
    run(c, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    longer = regression_config(num_steps=60)
    with pytest.raises(train.ResumeMismatchError, match=r"other data.*\[128, 3\].*RGRAD_DATA_DIR"):
        train.train_and_evaluate(longer, tmp_path, task=ShiftedRegression(longer), progress=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) \
        == ["20", "40"]
    # The same data resumes.
    out = run(longer, tmp_path)
    assert out["members"][0]["metrics"]["count"] == 60


def test_nan_guard_names_step_and_keeps_checkpoint(tmp_path):
    c = regression_config(nan_at=47)  # Task.loss sees step=47 in the 48th update
    with pytest.raises(train.NonFiniteError, match=r"non-finite loss at step 48 .*step 40"):
        run(c, tmp_path)
    ckpts = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert ckpts[-1] == 40
    assert not (tmp_path / "final_metrics.json").exists()


def test_seeds_and_vmap_sweep_in_one_program(tmp_path):
    c = regression_config(num_seeds=3, vmap_sweep="lr=0.05,0.01;noise=0.0,0.1")
    out = run(c, tmp_path)
    assert out["compilations"] == 1
    assert len(out["members"]) == 12 and len(out["summary"]) == 4
    # Seeds differ; a member equals the same seed trained alone.
    errs = [m["metrics"]["w_err"] for m in out["members"][:3]]
    assert len(set(errs)) == 3
    alone = run(regression_config(seed=0), tmp_path / "alone")
    first = out["members"][0]
    assert first["hparams"] == {"lr": 0.05, "noise": 0.0}
    alone_nf = run(regression_config(vmap_sweep="noise=0.0"), tmp_path / "alone0")
    np.testing.assert_allclose(first["metrics"]["w_err"],
                               alone_nf["members"][0]["metrics"]["w_err"], rtol=1e-5)
    assert alone["members"][0]["hparams"]["noise"] == 0.1


def test_vmap_sweep_rejects_unknown_hparam(tmp_path):
    with pytest.raises(ValueError, match="kl_weight"):
        run(regression_config(vmap_sweep="kl_weight=1,2"), tmp_path)


def test_sweep_skips_finished_points(tmp_path, monkeypatch):
    c = regression_config()
    original = train.train_and_evaluate
    monkeypatch.setattr(registry, "make_task", Regression)  # config.experiment is "test"
    monkeypatch.setattr(registry, "check_config", lambda cfg: None)
    monkeypatch.setattr(train, "train_and_evaluate", lambda cfg, wd, task=None, progress=True:
                        original(cfg, wd, task or Regression(cfg), progress=False))
    points = train.parse_sweep("optim.lr=0.05,0.02")
    rows = sweep.run_sweep(c, tmp_path, points)
    assert len(rows) == 2 and (tmp_path / "results.md").exists()
    stamp = (tmp_path / "optim.lr=0.05" / "final_metrics.json").stat().st_mtime_ns
    calls = []
    monkeypatch.setattr(train, "train_and_evaluate", lambda *a, **k: calls.append(a))
    rows2 = sweep.run_sweep(c, tmp_path, points)
    assert calls == [] and rows2 == rows
    assert (tmp_path / "optim.lr=0.05" / "final_metrics.json").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="no_such_field"):
        sweep.run_sweep(c, tmp_path, [{"no_such_field": 1}])


def test_config_file_sweeps_apply_to_their_variants():
    """A config's own sweep() names real fields; vae.py's iwae variants sweep Table 1's rows."""
    from configs import vae

    points = {arg: sweep.config_sweep(f"{ROOT}/configs/vae.py:{arg}") for arg in ("quick", "iwae")}
    assert points["iwae"] == [
        {"objective": "elbo", "num_samples": 1}, {"objective": "iwae", "num_samples": 50}]
    assert len(points["quick"]) == 4  # the estimators
    for arg, arg_points in points.items():
        for point in arg_points:
            c = vae.get_config(arg)
            c.update_from_flattened_dict(point)  # raises on an unknown field or a wrong type


def test_parse_sweep_grid():
    assert train.parse_sweep("a=1,2;b=x") == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    with pytest.raises(ValueError, match="name=v1,v2"):
        train.parse_sweep("a")


def _main(*args, env=None, timeout=240):
    return subprocess.run([sys.executable, "-m", "experiments.main", *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=timeout)


def test_unknown_config_field_fails_loudly(tmp_path):
    r = _main("--config=configs/vae.py:quick", "--config.no_such_field=1",
              f"--workdir={tmp_path}")
    assert r.returncode != 0 and "no_such_field" in r.stderr
    r = _main("--config=configs/vae.py:nonsense", f"--workdir={tmp_path}")
    assert r.returncode != 0 and "nonsense" in r.stderr and "quick" in r.stderr


def test_bad_data_dir_is_a_clear_error(tmp_path):
    r = _main("--config=configs/vae.py:quick", f"--workdir={tmp_path / 'w'}",
              f"--config.data.data_dir={tmp_path / 'nowhere'}", "--config.data.download=False")
    assert r.returncode == 1
    assert "nowhere" in r.stderr and "RGRAD_DATA_DIR" in r.stderr
    assert not (tmp_path / "w" / "final_metrics.json").exists()


@pytest.mark.skipif(not shutil.which("make"), reason="needs make")
def test_make_snapshot_carries_a_run_to_a_new_checkout(tmp_path):
    """``make snapshot`` then, with the run's workdir gone, ``make resume`` picks the run up."""
    runs, snaps = tmp_path / "runs", tmp_path / "snapshots"
    r = _main("--config=configs/vae.py:quick", "--config.num_steps=100", "--config.artifacts=False",
              f"--workdir={runs / 'q'}")
    assert r.returncode == 0, r.stderr
    make = ["make", "-s", "-o", ".venv/.installed", f"BIN={pathlib.Path(sys.executable).parent}",
            f"RUNS={runs}", f"SNAPSHOTS={snaps}", "RUN=q"]
    r = subprocess.run([*make, "snapshot"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(p.name for p in (snaps / "q" / "checkpoints").iterdir()) == ["100"]
    assert {p.name for p in (snaps / "q").iterdir()} == {
        "checkpoints", "config.json", "data.json", "identity.json", "metrics.jsonl"}
    shutil.rmtree(runs)
    (runs / "q").mkdir(parents=True)  # a workdir that never reached a checkpoint

    r = subprocess.run([*make, "resume", "CONFIG=configs/vae.py:quick --config.artifacts=False"],
                       cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "restored from" in r.stdout and "resumed from checkpoint at step 100" in r.stdout
    rows = [json.loads(x) for x in (runs / "q" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in rows if x["split"] == "train"] == [50, 100, 150, 200]
    assert (runs / "q" / "final_metrics.json").exists()

    r = subprocess.run([*make, "RUN=nothing", "snapshot"], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode != 0 and "no finished checkpoint" in r.stdout


MULTI_DEVICE = """
import sys
import jax
sys.path.insert(0, "tests")
from test_train import Regression, regression_config
from rgrad import train
shard = train.shard_members
devices_used = []
def spy(ts, *layout):
    out = shard(ts, *layout)
    devices_used.append(len(jax.tree.leaves(out)[0].sharding.device_set))
    return out
train.shard_members = spy
c = regression_config(num_seeds=2)
out = train.train_and_evaluate(c, sys.argv[1], task=Regression(c), progress=False)
assert jax.device_count() == 2 and devices_used == [2], (jax.devices(), devices_used)
ms = [m["metrics"]["w_err"] for m in out["members"]]
assert ms[0] != ms[1], ms
print("OK", out["compilations"], ms)
"""


def test_seeds_sharded_over_host_devices(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    r = subprocess.run([sys.executable, "-c", MULTI_DEVICE, str(tmp_path)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "OK 1" in r.stdout
