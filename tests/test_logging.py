"""Logs: TensorBoard per member (scalars, images, config text, hparams) read back with
tensorboard's own EventAccumulator; resume truncation; torn lines; writer failures; wandb
offline; summary tables (std with ddof=1, n); one rate and no duplicate lines on the bar."""

import errno
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from configs import base
from rgrad import metrics_io, summary_table, tb_events, train
from rgrad.task import Task

ROOT = pathlib.Path(__file__).resolve().parents[1]


class ImageRegression(Task):
    """Noisy linear regression (sampled weight noise) with a small image per evaluation."""

    def dataset(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(256, 3)).astype(np.float32)
        return {"x": x, "y": x @ np.array([1.0, -2.0, 0.5], np.float32)}

    def init(self, key):
        return {"w": 0.1 * jax.random.normal(key, (3,))}, {}

    def hparams(self):
        return {"noise": 0.1}

    def loss(self, params, state, batch, *, key, step, hparams):
        w = params["w"] + hparams["noise"] * jax.random.normal(key, (3,))
        return jnp.mean((batch["x"] @ w - batch["y"]) ** 2), ({"w0": w[0]}, state)

    def evaluate(self, params, state, *, key):
        return {"w_err": jnp.linalg.norm(params["w"] - jnp.array([1.0, -2.0, 0.5])),
                "draw": jax.random.uniform(key)}

    def eval_images(self, params, state, *, key):
        # [2, 4, 3]: the weights squashed to [0, 1], and a random image (uses the key).
        img = jnp.broadcast_to(jax.nn.sigmoid(params["w"]), (4, 3))
        return {"weights": jnp.stack([img, jax.random.uniform(key, (4, 3))])}


def config(**kw):
    c = base.get_config()
    c.experiment = "test"
    c.num_steps, c.batch_size, c.log_every, c.eval_every, c.checkpoint_every = 60, 32, 10, 30, 20
    c.optim.lr = 0.05
    c.num_seeds = 2
    c.vmap_sweep = "noise=0.0,0.1"
    c.artifacts = False
    c.update_from_flattened_dict(kw)
    c.lock()
    return c


def run(c, workdir):
    return train.train_and_evaluate(c, workdir, task=ImageRegression(c), progress=False)


def read_tb(workdir: pathlib.Path) -> dict[str, EventAccumulator]:
    out = {}
    for d in sorted((workdir / "tb").iterdir()):
        ea = EventAccumulator(str(d), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
        ea.Reload()
        out[d.name] = ea
    return out


def scalars(eas: dict[str, EventAccumulator]) -> dict:
    """run -> tag -> [(step, value)]; steps/s (a wall-clock rate) by its steps only."""
    return {run: {tag: [(e.step, None if tag == "perf/steps_per_sec" else e.value)
                        for e in ea.Scalars(tag)] for tag in ea.Tags()["scalars"]}
            for run, ea in eas.items()}


KILLED_RUN = """
import os, signal, sys
sys.path.insert(0, "tests")
import test_logging as t
from rgrad import metrics_io
original = metrics_io.MetricWriter.write_train
def dying(self, step, *a, **k):
    original(self, step, *a, **k)
    if step == 50:
        self.flush()  # step 50's events on disk, past the checkpoint at 40
        with open(self.path, "a") as f:
            f.write('{"step": 60, "split": "tr')  # a kill mid-write
        os.kill(os.getpid(), signal.SIGKILL)
metrics_io.MetricWriter.write_train = dying
t.run(t.config(), sys.argv[1])
"""


def _on_disk_at_checkpoints(tmp_path, monkeypatch, c) -> list[tuple[int, int]]:
    """(checkpoint step, last train step in the event files on disk when it is saved)."""
    from rgrad import checkpoint

    seen, save = [], checkpoint.Checkpointer.save

    def spy(self, step, *a, **k):
        logged = [e.step for path in tb_events.event_files(tmp_path / "tb")
                  for e, _ in tb_events.read_events(path)[0]
                  if any(v.tag == "train/w0" for v in e.summary.value)]
        seen.append((step, max(logged, default=0)))
        return save(self, step, *a, **k)

    monkeypatch.setattr(checkpoint.Checkpointer, "save", spy)
    run(c, tmp_path)
    monkeypatch.setattr(checkpoint.Checkpointer, "save", save)
    return seen


def test_tensorboard_per_member_and_resume_equals_uninterrupted(tmp_path, monkeypatch, capsys):
    """4 members (2 seeds x 2 points) as 4 named runs with scalars, images, config and hparams;
    SIGKILLed after step 50 (checkpoint 40, torn JSON line and torn event record), resumed: the
    same TensorBoard scalars, images' steps and metrics.jsonl as an uninterrupted run; without
    the truncation they differ."""
    c = config()
    # Every checkpoint finds the events up to its step on disk (flushed before it is saved).
    assert _on_disk_at_checkpoints(tmp_path / "full", monkeypatch, c) == [(20, 20), (40, 40),
                                                                          (60, 60)]
    full = read_tb(tmp_path / "full")
    assert list(full) == ["seed0_noise=0", "seed0_noise=0.1", "seed1_noise=0", "seed1_noise=0.1"]
    ea = full["seed1_noise=0.1"]
    assert {"train/w0", "eval/w_err", "eval/draw", "perf/steps_per_sec"} <= set(
        ea.Tags()["scalars"])
    assert [e.step for e in ea.Scalars("train/w0")] == [10, 20, 30, 40, 50, 60]
    assert all(e.value > 0 for e in ea.Scalars("perf/steps_per_sec"))
    imgs = ea.Images("images/weights")
    assert [i.step for i in imgs] == [30, 60] and imgs[0].width == 9 and imgs[0].height == 6
    config_text = ea.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"vmap_sweep": "noise=0.0,0.1"' in config_text
    hp = ea.PluginTagToContent("hparams")
    assert set(hp) == {"_hparams_/experiment", "_hparams_/session_start_info",
                       "_hparams_/session_end_info"}
    assert b"eval/w_err" in hp["_hparams_/experiment"]  # the table's metric columns
    start = hp["_hparams_/session_start_info"]
    assert b"member.seed" in start and b"optim.lr" in start and b"noise" in start

    killed = tmp_path / "killed"
    r = subprocess.run([sys.executable, "-c", KILLED_RUN, str(killed)], cwd=ROOT, timeout=300,
                       capture_output=True, text=True)
    assert r.returncode == -9, r.stderr[-2000:]
    event_file = tb_events.event_files(killed / "tb")[0]
    with open(event_file, "ab") as f:
        f.write(b"\x30\x00\x00\x00\x00\x00\x00\x00\x01\x02")  # a torn record
    steps = [e.step for e in read_tb(killed)["seed0_noise=0"].Scalars("train/w0")]
    assert steps == [10, 20, 30, 40, 50]  # step 50 is past the checkpoint at 40
    shutil.copytree(killed, tmp_path / "untruncated")
    capsys.readouterr()
    run(c, killed)
    out = capsys.readouterr().out
    assert "dropped a torn last line" in out and "resumed from checkpoint at step 40" in out
    assert scalars(read_tb(killed)) == scalars(full)
    assert ({r: [i.step for i in e.Images("images/weights")] for r, e in read_tb(killed).items()}
            == {r: [30, 60] for r in full})
    assert all(len(e.Tensors("config/text_summary")) == 1 for e in read_tb(killed).values())
    assert metrics_io.read_metrics(killed, "eval") == metrics_io.read_metrics(
        tmp_path / "full", "eval")
    assert metrics_io.read_metrics(killed) == metrics_io.read_metrics(tmp_path / "full")

    # The wrong variant: resume without cutting the events back keeps step 50 twice.
    monkeypatch.setattr(tb_events, "truncate_events", lambda root, step: set())
    run(c, tmp_path / "untruncated")
    assert scalars(read_tb(tmp_path / "untruncated")) != scalars(full)


def test_without_the_flush_events_are_not_on_disk_at_checkpoints(tmp_path, monkeypatch):
    """The wrong variant of the main test's check: events wait in a buffer (a kill loses
    them) unless the loop flushes before each checkpoint."""
    monkeypatch.setattr(metrics_io.MetricWriter, "flush", lambda self: None)
    c = config(num_seeds=1, vmap_sweep="", num_steps=40)
    assert _on_disk_at_checkpoints(tmp_path, monkeypatch, c) == [(20, 0), (40, 0)]


def test_torn_and_bad_jsonl_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "split": "train", "member": 0, "loss": 1.0} for s in (10, 20)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 30, "spl')
    assert metrics_io.read_metrics(tmp_path) == rows  # a line being written is left out
    assert metrics_io._truncate_after(path, 10) == '{"step": 30, "spl'
    assert metrics_io.read_metrics(tmp_path) == rows[:1] and path.read_text().endswith("\n")
    path.write_text('{"step": 10}\n{"step": 20, x}\n{"step": 30}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:2 is not a JSON line"):
        metrics_io.read_metrics(tmp_path)


def test_full_disk_ends_the_run_with_one_line(tmp_path, monkeypatch):
    """The event file's write raises ENOSPC mid-run: one LogWriteError line (a RuntimeError,
    which the entry points print as `error: ...`), no hang, no second traceback at close."""
    from tensorboardX import record_writer

    original, calls = record_writer.RecordWriter.write, []

    def full_after_a_while(self, data):
        calls.append(1)
        if len(calls) > 6:  # file version, config, 4 train steps
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, data)

    monkeypatch.setattr(record_writer.RecordWriter, "write", full_after_a_while)
    with pytest.raises(metrics_io.LogWriteError) as e:
        run(config(num_seeds=1, vmap_sweep=""), tmp_path)
    msg = str(e.value)
    assert isinstance(e.value, RuntimeError) and "\n" not in msg
    assert "No space left on device" in msg and str(tmp_path / "tb") in msg
    assert not (tmp_path / "final_metrics.json").exists()


def test_wandb_offline_writes_a_run_per_member(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    c = config(**{"wandb.project": "rgrad-test", "wandb.mode": "offline", "num_steps": 30,
                  "vmap_sweep": ""})
    run(c, tmp_path)
    ids = json.loads((tmp_path / "wandb_ids.json").read_text())
    assert list(ids) == ["seed0", "seed1"]
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert sorted(p.name.rsplit("-", 1)[1] for p in runs) == sorted(ids.values())
    assert all(list(p.glob("run-*.wandb")) for p in runs)


def test_summary_std_ddof1_n_and_aligned_table():
    members = [{"seed": s, "point": p, "hparams": {"lr": lr, "noise": 0.1}}
               for p, lr in enumerate((0.1, 0.01)) for s in range(3)]
    vals = [1.0, 2.0, 4.0, 10.0, 10.5, 12.0]
    per_member = [{"loss": v, "a_longer_metric_name": 2 * v} for v in vals]
    s = summary_table.summarize(per_member, members)
    loss = s[0]["metrics"]["loss"]
    assert loss["n"] == 3 and loss["std"] == pytest.approx(np.std(vals[:3], ddof=1))
    assert loss["std"] != pytest.approx(np.std(vals[:3]))  # not ddof=0
    assert loss["sem"] == pytest.approx(loss["std"] / np.sqrt(3))
    assert summary_table.sweep_columns(s[1]["metrics"])["loss_n"] == 3
    table = summary_table.format_table(s, "final").splitlines()
    assert table[0] == "final (n = 3 seeds, mean ± std (ddof=1))"
    assert table[1].split() == ["metric", "lr=0.1", "lr=0.01"]
    assert len({len(r) for r in table[1:]}) == 1  # aligned: every row as wide
    assert table[2].startswith("loss ") and "2.3333 ± 1.5" in table[2]
    one = summary_table.summarize(per_member[:1], members[:1])
    assert one[0]["metrics"]["loss"]["std"] is None
    assert summary_table.format_table(one, "final").splitlines()[2].split() == ["loss", "1"]


def _feed(writer, total=60):
    for step in range(10, total + 1, 10):
        writer.write_train(step, {"loss": np.array([1.0, 2.0])}, steps_per_sec=123.4)
    writer.write_final([{"loss": 1.0}, {"loss": 2.0}])
    writer.close()


def test_progress_one_rate_and_no_duplicate_lines(tmp_path, monkeypatch, capsys):
    members = [{"seed": s, "point": 0, "hparams": {}} for s in range(2)]
    (tmp_path / "plain").mkdir()
    (tmp_path / "tty").mkdir()
    w = metrics_io.MetricWriter(tmp_path / "plain", resume_step=0, progress=True, total=60,
                                initial=0, member_list=members)
    _feed(w)
    out = capsys.readouterr()
    lines = out.out.splitlines()
    progress = [x for x in lines if "steps/s" in x]
    assert len(progress) == 2 and "step 10/60" in progress[0] and "step 60/60" in progress[1]
    assert "100%" not in out.out + out.err and len(set(lines)) == len(lines)
    # On a terminal: a bar whose only rate is the loop's steps/s.
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    w = metrics_io.MetricWriter(tmp_path / "tty", resume_step=0, progress=True, total=60,
                                initial=0, member_list=members)
    _feed(w)
    err = capsys.readouterr().err
    assert "steps/s=123.4" in err and not re.search(r"[\d.]+ ?(it|step)/s", err)


def test_disabled_writer_writes_nothing(tmp_path, capsys):
    members = [{"seed": s, "point": 0, "hparams": {}} for s in range(2)]
    w = metrics_io.MetricWriter(tmp_path, resume_step=0, progress=True, total=60, initial=0,
                                member_list=members, enabled=False)
    _feed(w)
    w.write_eval(60, [{"x": 1.0}])
    w.flush()
    assert list(tmp_path.iterdir()) == [] and capsys.readouterr().out == ""


def test_make_tensorboard_target():
    if not shutil.which("make"):
        pytest.skip("needs make")
    r = subprocess.run(["make", "-n", "-o", ".venv/.installed", "tensorboard", "LOGDIR=runs/x"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert re.search(r"tensorboard --logdir=runs/x\b", r.stdout)
    assert (pathlib.Path(sys.executable).parent / "tensorboard").exists()
