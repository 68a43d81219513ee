"""rgrad.load_run / load_sweep read a workdir back (config, metrics, final, params) untrained."""

import json
import pathlib
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rgrad
from configs import base
from rgrad import metrics_io, train
from rgrad.task import Task

ROOT = pathlib.Path(__file__).resolve().parents[1]
TRUE_W = np.array([1.0, -2.0, 0.5], np.float32)


class Regression(Task):
    """Linear regression with a noisy weight perturbation (so seeds differ); hparam ``noise``."""

    def dataset(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(128, 3)).astype(np.float32)
        return {"x": x, "y": (x @ TRUE_W).astype(np.float32)}

    def init(self, key):
        return {"w": 0.1 * jax.random.normal(key, (3,)), "b": jnp.zeros(())}, {}

    def hparams(self):
        return {"noise": 0.1}

    def loss(self, params, state, batch, *, key, step, hparams):
        w = params["w"] + hparams["noise"] * jax.random.normal(key, (3,))
        loss = jnp.mean((batch["x"] @ w + params["b"] - batch["y"]) ** 2)
        return loss, ({"w0": w[0]}, state)

    def evaluate(self, params, state, *, key):
        return {"w_err": jnp.linalg.norm(params["w"] - TRUE_W)}


def config(**kw):
    c = base.get_config()
    c.experiment = "test"
    c.update(dict(num_steps=40, batch_size=32, log_every=10, eval_every=20,
                  checkpoint_every=20, artifacts=False, num_seeds=3, vmap_sweep="noise=0.1,0.3"))
    c.optim.lr = 0.05
    c.update(kw)
    c.lock()
    return c


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    c = config()
    out = train.train_and_evaluate(c, workdir, Regression(c), progress=False)
    return workdir, out


def test_config_final_and_members(finished):
    workdir, out = finished
    run = rgrad.load_run(workdir)
    assert run.finished and run.config.num_seeds == 3 and run.config.optim.lr == 0.05
    assert [(m["seed"], m["point"]) for m in run.members] == [
        (s, p) for p in range(2) for s in range(3)]
    final = run.final_frame
    assert list(final.columns[:4]) == ["member", "seed", "point", "noise"]
    np.testing.assert_array_equal(final["w_err"], [m["metrics"]["w_err"] for m in out["members"]])
    np.testing.assert_array_equal(final["noise"], np.repeat([0.1, 0.3], 3))


def test_metrics_table_matches_the_jsonl(finished):
    workdir, _ = finished
    frame = rgrad.load_run(workdir).metrics
    train_rows = metrics_io.read_metrics(workdir, "train")
    eval_rows = metrics_io.read_metrics(workdir, "eval")
    assert len(frame) == len(train_rows) + len(eval_rows) == 6 * (4 + 2)
    tr = frame[frame["split"] == "train"]
    np.testing.assert_array_equal(tr["loss"], [r["loss"] for r in train_rows])
    np.testing.assert_array_equal(tr["member"], [r["member"] for r in train_rows])
    # seed and point follow the loop's member order: points outermost.
    np.testing.assert_array_equal(tr["seed"], tr["member"] % 3)
    np.testing.assert_array_equal(tr["noise"], np.where(tr["member"] < 3, 0.1, 0.3))
    assert frame.loc[frame["split"] == "train", "w_err"].isna().all()
    assert frame.loc[frame["split"] == "eval", "w_err"].notna().all()


def test_curves_are_mean_and_ddof1_std_over_seeds(finished):
    workdir, _ = finished
    run = rgrad.load_run(workdir)
    curves = run.curves("loss")
    assert len(curves) == 2 * 4 and set(curves["n"]) == {3}
    frame = run.metrics
    for _, row in curves.iterrows():
        vals = frame[(frame.split == "train") & (frame.point == row.point)
                     & (frame.step == row.step)]["loss"].to_numpy()
        assert row["mean"] == pytest.approx(vals.mean())
        assert row["std"] == pytest.approx(vals.std(ddof=1))
        assert row["std"] != pytest.approx(vals.std(ddof=0))  # the ddof = 0 variant differs
        assert row["sem"] == pytest.approx(vals.std(ddof=1) / np.sqrt(3))
    with pytest.raises(ValueError, match="no metric 'lossy'.*loss"):
        run.curves("lossy")


def test_params_are_the_last_checkpoint_of_every_member(finished):
    workdir, out = finished
    run = rgrad.load_run(workdir)
    assert run.checkpoint_step == 40
    trained = jax.device_get(out["train_state"].params)
    for i in range(6):
        got = run.member_params(i)
        assert isinstance(got["w"], np.ndarray) and got["w"].shape == (3,)
        np.testing.assert_array_equal(got["w"], trained["w"][i])
        np.testing.assert_array_equal(got["b"], trained["b"][i])
    np.testing.assert_array_equal(run.params["w"], trained["w"][0])
    assert not np.array_equal(run.member_params(1)["w"], trained["w"][0])  # members differ
    state = run.checkpoint
    np.testing.assert_array_equal(state["step"], np.full(6, 40))
    np.testing.assert_allclose(state["hparams"]["noise"], np.repeat([0.1, 0.3], 3), rtol=1e-6)
    with pytest.raises(ValueError, match="member 6 does not exist.*6 members"):
        run.member_params(6)


def test_a_damaged_latest_checkpoint_is_skipped(finished, tmp_path):
    workdir, _ = finished
    shutil.copytree(workdir, tmp_path / "w")
    latest = tmp_path / "w" / "checkpoints" / "40"
    assert (latest / "rgrad_digest.json").exists()
    victim = max((p for p in latest.rglob("*") if p.is_file() and "digest" not in p.name),
                 key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    run = rgrad.load_run(tmp_path / "w")
    assert run.checkpoint_step == 20  # the one before (keep_checkpoints=2)
    np.testing.assert_array_equal(run.checkpoint["step"], np.full(6, 20))


def test_loading_trains_nothing_and_imports_no_experiment(finished):
    workdir, _ = finished
    code = ("import sys, rgrad; assert 'jax' not in sys.modules; r = rgrad.load_run(sys.argv[1]);"
            " r.metrics; r.final_frame; r.params;"
            " bad = sorted(m for m in sys.modules if m.split('.')[0] == 'experiments'"
            " or m in ('rgrad.train', 'rgrad.chunk', 'rgrad.evaluation'));"
            " assert not bad, bad; print('ok')")
    r = subprocess.run([sys.executable, "-c", code, str(workdir)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_unfinished_run_and_bad_workdir(tmp_path, monkeypatch):
    def killed(*a, **k):
        raise KeyboardInterrupt  # the run dies after its last checkpoint, before the final eval

    monkeypatch.setattr(metrics_io.MetricWriter, "write_final", killed)
    c = config(num_seeds=2, vmap_sweep="")
    with pytest.raises(KeyboardInterrupt):
        train.train_and_evaluate(c, tmp_path / "w", Regression(c), progress=False)
    run = rgrad.load_run(tmp_path / "w")
    assert not run.finished and run.checkpoint_step == 40
    assert run.members == [{"seed": 0, "point": 0, "hparams": {}},
                           {"seed": 1, "point": 0, "hparams": {}}]
    assert sorted(set(run.metrics["seed"])) == [0, 1] and run.params["w"].shape == (3,)
    with pytest.raises(ValueError, match="unfinished"):
        _ = run.final_frame
    with pytest.raises(ValueError, match="no config.json.*load_sweep"):
        rgrad.load_run(tmp_path)
    with pytest.raises(ValueError, match="no config.json.*--workdir"):
        rgrad.load_run(tmp_path / "w" / "checkpoints")


def test_load_sweep_stacks_points_with_their_varying_fields(finished, tmp_path):
    workdir, _ = finished
    for name, lr in (("optim.lr=0.05", 0.05), ("optim.lr=0.1", 0.1)):
        (tmp_path / name).mkdir()
        saved = json.loads((workdir / "config.json").read_text())
        saved["optim"]["lr"] = lr
        (tmp_path / name / "config.json").write_text(json.dumps(saved))
        for f in ("metrics.jsonl", "final_metrics.json"):
            (tmp_path / name / f).write_bytes((workdir / f).read_bytes())
    sweep = rgrad.load_sweep(tmp_path)
    assert sweep.varying == ["optim.lr"] and list(sweep.runs) == ["optim.lr=0.05", "optim.lr=0.1"]
    assert list(sweep.final_frame.columns[:3]) == ["run", "optim.lr", "member"]
    assert sorted(set(sweep.metrics["optim.lr"])) == [0.05, 0.1]
    assert len(sweep.metrics) == 2 * len(rgrad.load_run(workdir).metrics)
    with pytest.raises(ValueError, match="no subfolder holding a config.json"):
        rgrad.load_sweep(workdir / "checkpoints")


def test_figures_read_finished_runs_and_train_only_the_others(tmp_path, monkeypatch):
    from experiments import run as run_lib
    from experiments.figures import common

    def fake_workdir(workdir, overrides):  # what a finished run of those overrides leaves
        workdir.mkdir(parents=True)
        config = run_lib.resolve("configs/lqg.py:quick", overrides)
        (workdir / "config.json").write_text(config.to_json_best_effort())
        (workdir / "metrics.jsonl").write_text("")
        member = {"seed": 0, "point": 0, "hparams": {}, "metrics": {"gap": overrides["num_steps"]}}
        (workdir / "final_metrics.json").write_text(json.dumps({"members": [member]}))

    trained = []

    def train(config_ref, overrides, workdir):
        trained.append(workdir.name)
        fake_workdir(workdir, overrides)

    monkeypatch.setattr(run_lib, "run", train)
    fake_workdir(tmp_path / "run_done", {"num_steps": 40})
    runs = common.finished_runs((("done", "configs/lqg.py:quick", {"num_steps": 40}),
                                 ("new", "configs/lqg.py:quick", {"num_steps": 30})), tmp_path)
    assert trained == ["run_new"]
    assert runs["done"].final_frame["gap"].tolist() == [40.0]
    assert runs["new"].final_frame["gap"].tolist() == [30.0]
    # A finished run of another config is not read as this one (the figure trains it anew).
    assert not common.finished_as_stated("configs/lqg.py:quick", {"num_steps": 50},
                                         tmp_path / "run_done")
