"""Verified checkpoints and recoverable divergence (issue 20, items 3 and 4).

Faults are injected into real orbax checkpoints: flipped bytes, a truncated file, every
checkpoint damaged, a digest-less (older) checkpoint, the optimizer-state layout of before the
clipping slot, and a run that diverges and is continued from its last good checkpoint with a
lower learning rate or with clipping.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_train import Regression, regression_config  # noqa: E402

from configs import base  # noqa: E402
from rgrad import checkpoint, checkpoint_digest, clipping, metrics_io, train  # noqa: E402
from rgrad.task import Task  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def state(step):
    """A pytree big enough (16 KiB) that orbax compresses it: flipped bytes change values."""
    return {"w": jnp.arange(4096, dtype=jnp.float32) * step, "b": jnp.full((3,), step, jnp.int32)}


def saved(tmp_path, keep=2, steps=(1, 2)):
    ck = checkpoint.Checkpointer(tmp_path / "ck", keep=keep)
    for s in steps:
        ck.save(s, state(s))
    ck.close()
    return tmp_path / "ck"


def largest_file(folder):
    files = [p for p in folder.rglob("*")
             if p.is_file() and p.name != checkpoint_digest.DIGEST_FILE]
    return max(files, key=lambda p: p.stat().st_size)


def flip_bytes(folder):
    f = largest_file(folder)
    b = bytearray(f.read_bytes())
    for k in range(3):
        b[len(b) // 2 + k] ^= 0x5A
    f.write_bytes(bytes(b))


def truncate(folder):
    f = largest_file(folder)
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def restore(directory, target=None):
    ck = checkpoint.Checkpointer(directory)
    out = ck.restore_or(state(0) if target is None else target)
    ck.close()
    return out, ck.notes


def equal(a, b):
    return all(np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def test_digest_written_after_save_and_checked(tmp_path):
    d = saved(tmp_path)
    assert sorted(p.name for p in d.iterdir()) == ["1", "2"]
    record = json.loads((d / "2" / checkpoint_digest.DIGEST_FILE).read_text())
    assert "default/_METADATA" in record["files"] and record["algorithm"] == "blake2b-128"
    assert checkpoint_digest.check(d / "2") == (checkpoint_digest.INTACT, "")
    out, notes = restore(d)
    assert equal(out, state(2)) and notes == []


def check_fallback(tmp_path, damage, words):
    """The latest checkpoint damaged: step 1 is restored, with one note naming what and where."""
    d = saved(tmp_path)
    damage(d / "2")
    out, notes = restore(d)
    assert equal(out, state(1)), "the damaged step 2 was restored"
    assert len(notes) == 1 and "\n" not in notes[0]
    for w in [f"{d}/2 is damaged", f"moved to {d}/2.damaged, resuming from the previous "
              "intact checkpoint, step 1", *words]:
        assert w in notes[0], (w, notes[0])
    # Moved aside (kept to inspect); orbax then saves step 2 again and restores it.
    assert sorted(p.name for p in d.iterdir()) == ["1", "2.damaged"]
    ck = checkpoint.Checkpointer(d)
    ck.save(2, state(5))
    ck.close()
    out, notes = restore(d)
    assert equal(out, state(5)) and notes == []


def test_flipped_bytes_fall_back_to_previous_checkpoint(tmp_path):
    check_fallback(tmp_path, flip_bytes, ["bytes differ from its digest"])


def test_truncated_latest_falls_back_to_previous_checkpoint(tmp_path):
    check_fallback(tmp_path, truncate, ["expected (truncated)"])


def test_latest_with_a_missing_file_falls_back_to_previous_checkpoint(tmp_path):
    check_fallback(tmp_path, lambda d: largest_file(d).unlink(), ["is missing"])


def test_without_the_digest_check_flipped_bytes_restore_silently(tmp_path, monkeypatch):
    """The check is what catches it: turned off, the fallback test fails (orbax restores the
    flipped bytes as other numbers)."""
    monkeypatch.setattr(checkpoint_digest, "check", lambda folder: (checkpoint_digest.INTACT, ""))
    with pytest.raises(AssertionError, match="damaged step 2 was restored"):
        check_fallback(tmp_path, flip_bytes, [])


def test_no_intact_checkpoint_refuses_and_moves_nothing(tmp_path):
    d = saved(tmp_path)
    flip_bytes(d / "2")
    truncate(d / "1")
    with pytest.raises(checkpoint.CheckpointError) as e:
        restore(d)
    msg = str(e.value)
    assert "\n" not in msg and isinstance(e.value, ValueError)
    for w in [f"no intact checkpoint in {d}", "step 2:", "step 1:", "(truncated)",
              "not starting over from step 0", "--restart"]:
        assert w in msg, (w, msg)
    assert sorted(p.name for p in d.iterdir()) == ["1", "2"]


def test_keep_checkpoints_must_be_at_least_one(tmp_path):
    for keep in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match=rf"keep_checkpoints={keep!r} keeps no checkpoint"):
            checkpoint.Checkpointer(tmp_path / "ck", keep=keep)
    assert not (tmp_path / "ck").exists()
    c = regression_config(keep_checkpoints=0)
    with pytest.raises(ValueError, match="keep_checkpoints"):
        train.train_and_evaluate(c, tmp_path / "run", task=Regression(c), progress=False)
    assert not (tmp_path / "run" / "checkpoints").exists()
    saved(tmp_path, keep=1)  # one is enough
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["2"]


def test_checkpoints_path_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "ck").write_text("")
    with pytest.raises(ValueError, match="is a file, not a folder of checkpoints"):
        checkpoint.Checkpointer(tmp_path / "ck")


def test_checkpoint_without_digest_restores_with_a_note(tmp_path):
    d = saved(tmp_path)
    for step in ("1", "2"):
        (d / step / checkpoint_digest.DIGEST_FILE).unlink()
    out, notes = restore(d)
    assert equal(out, state(2))
    assert notes == [f"checkpoint {d}/2 has no digest (saved before checkpoints had one); "
                     "restored it unverified"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # orbax's
# other read coroutines, abandoned after the first error
def test_checkpoint_of_another_config_or_unverified_and_unreadable_is_one_line(tmp_path):
    d = saved(tmp_path)
    with pytest.raises(ValueError, match=r"/2 does not match this config .*Use a fresh") as e:
        restore(d, {"w": jnp.zeros(5)})
    assert "\n" not in str(e.value)
    (d / "2" / checkpoint_digest.DIGEST_FILE).unlink()
    truncate(d / "2")
    with pytest.raises(ValueError, match=r"/2 could not be read: it has no digest, so it may "
                                         r"be damaged") as e:
        restore(d)
    assert "\n" not in str(e.value)


def test_optimizer_state_has_one_tree_with_or_without_clipping():
    def tx_of(**optim):
        c = regression_config(optim=optim)
        return Regression(c).optimizer(optax.constant_schedule(c.optim.lr))

    p = {"w": jnp.ones(3)}
    for name in ("adam", "sgd", "adamw"):
        off, on = tx_of(name=name).init(p), tx_of(name=name, grad_clip=1.0).init(p)
        assert jax.tree.structure(off) == jax.tree.structure(on)
    # Off is exactly the bare optimizer; on clips to the global norm.
    g = {"w": jnp.array([3.0, 4.0, 0.0])}
    u_off, _ = tx_of(name="sgd", lr=1.0).update(g, tx_of(name="sgd").init(p))
    u_on, _ = tx_of(name="sgd", lr=1.0, grad_clip=1.0).update(g, tx_of(name="sgd").init(p))
    np.testing.assert_array_equal(u_off["w"], -g["w"])
    np.testing.assert_allclose(u_on["w"], -g["w"] / 5.0, rtol=1e-6)


@pytest.mark.parametrize("old_clip", [0.0, 1.0])
def test_checkpoints_of_the_old_optimizer_layout_restore(tmp_path, old_clip):
    """Before the clipping slot: bare ``adam`` state without clipping, ``chain`` with it."""
    p = {"w": jnp.arange(3.0)}
    old_tx = optax.adam(1e-3)
    if old_clip:
        old_tx = optax.chain(optax.clip_by_global_norm(old_clip), old_tx)
    _, old_state = old_tx.update({"w": jnp.ones(3)}, old_tx.init(p), p)  # count 1, moments != 0
    ck = checkpoint.Checkpointer(tmp_path / "ck")
    ck.save(7, {"params": p, "opt_state": old_state})
    ck.close()
    new_tx = optax.chain(clipping.global_norm_clip(0.0), optax.adam(1e-3))
    target = {"params": p, "opt_state": new_tx.init(p)}
    out, notes = restore(tmp_path / "ck", target)
    assert jax.tree.structure(out) == jax.tree.structure(target)
    assert equal(out["opt_state"], (clipping.ClipSlot(), old_state[-1] if old_clip else old_state))
    assert int(out["opt_state"][1][0].count) == 1
    assert [n for n in notes if "before the clipping slot" in n] == (
        [] if old_clip else [f"checkpoint {tmp_path / 'ck'}/7 holds the optimizer state of "
                             "before the clipping slot; mapped into the current layout"])


SNAPSHOT = ROOT / "snapshots" / "vae_iwae"


@pytest.mark.skipif(not SNAPSHOT.is_dir(), reason="no committed snapshot")
def test_committed_snapshot_restores_unverified_into_the_current_layout(tmp_path):
    """snapshots/vae_iwae predates digests and the clipping slot: it restores, with notes."""
    from experiments import registry, run
    from rgrad import schedules
    from rgrad.members import init_members, members

    c = run.resolve("configs/vae.py:iwae")
    task = registry.make_task(c)
    n = jax.tree.leaves(task.dataset())[0].shape[0] // c.batch_size
    tx = task.optimizer(task.schedule(n, schedules.total_steps(c, n)))
    ts = init_members(task, tx, c, members(c, task))
    shutil.copytree(SNAPSHOT / "checkpoints", tmp_path / "ck")
    out, notes = restore(tmp_path / "ck", ts)
    step = int(next((tmp_path / "ck").iterdir()).name)
    assert int(out.step[0]) == step and len(notes) == 2
    assert "has no digest" in notes[0] and "before the clipping slot" in notes[1]
    assert not equal(out.params, ts.params)


class Quadratic(Task):
    """loss = w^2 / 2 from w = 1: SGD at lr > 2 diverges as (1 - lr)^t (lr=3: w^2 = 2^(2t)
    overflows float32 at t = 64, i.e. in step 65); lr < 2 converges."""

    def init(self, key):
        return {"w": jnp.ones(())}, {}

    def batch(self, data, state, params, *, key, step):
        return None, state

    def loss(self, params, state, batch, *, key, step, hparams):
        return 0.5 * params["w"] ** 2, ({}, state)

    def evaluate(self, params, state, *, key):
        return {"abs_w": jnp.abs(params["w"])}


def quadratic_config(**kw):
    c = base.get_config()
    c.experiment = "test"
    c.num_steps, c.log_every, c.eval_every, c.checkpoint_every = 100, 5, 50, 10
    c.optim.name, c.optim.lr = "sgd", 3.0
    c.update(kw)
    c.lock()
    return c


def quadratic(c, workdir):
    return train.train_and_evaluate(c, workdir, task=Quadratic(c), progress=False)


def fork(old, new, step):
    """What ``--fork_from`` does with the checkpoints: the old run's last one, in a new workdir."""
    shutil.copytree(old / "checkpoints" / str(step), new / "checkpoints" / str(step))


def test_divergence_message_names_the_step_and_the_checkpoint(tmp_path):
    with pytest.raises(train.NonFiniteError) as e:
        quadratic(quadratic_config(log_every=1), tmp_path)
    msg = str(e.value)
    steps = [r["step"] for r in metrics_io.read_metrics(tmp_path)]
    assert steps == list(range(1, 65))  # steps 1-64 logged: 65 is the first non-finite one
    assert "\n" not in msg and msg.startswith("non-finite loss at step 65 (steps numbered as in "
                                              "metrics.jsonl)"), msg
    ckpts = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir())
    assert ckpts == [50, 60]
    assert (f"The last good checkpoint is step 60 ({tmp_path}/checkpoints/60)" in msg
            and f"--fork_from={tmp_path} --workdir=NEW_WORKDIR --config.optim.lr=LOWER" in msg
            and "--config.optim.grad_clip=1.0" in msg), msg


def test_divergence_before_the_first_checkpoint_claims_none(tmp_path):
    with pytest.raises(train.NonFiniteError) as e:
        quadratic(quadratic_config(checkpoint_every=100, log_every=50), tmp_path)
    msg = str(e.value)
    assert msg.startswith("non-finite loss at step 65 ")
    assert f"No checkpoint exists in {tmp_path}/checkpoints" in msg and "--restart" in msg
    assert "last good checkpoint" not in msg
    assert not any(p.name.isdigit() for p in (tmp_path / "checkpoints").iterdir())


@pytest.mark.parametrize("change", [
    {"optim": {"lr": 0.5}},
    {"optim": {"grad_clip": 1.0}},
    {"vmap_sweep": "lr=0.5"},  # a swept lr lives in the checkpointed hparams
], ids=["lower_lr", "grad_clip", "swept_lr"])
def test_diverged_run_continues_from_its_checkpoint_with_the_change(tmp_path, change):
    sweep = {"vmap_sweep": "lr=3.0"} if "vmap_sweep" in change else {}
    with pytest.raises(train.NonFiniteError, match="at step 65 .*checkpoint is step 60"):
        quadratic(quadratic_config(**sweep), tmp_path / "old")
    if change == {"optim": {"lr": 0.5}}:  # unchanged, it diverges again at the same step
        fork(tmp_path / "old", tmp_path / "same", 60)
        with pytest.raises(train.NonFiniteError, match="at step 65 .*checkpoint is step 60"):
            quadratic(quadratic_config(), tmp_path / "same")
    fork(tmp_path / "old", tmp_path / "new", 60)
    out = quadratic(quadratic_config(**change), tmp_path / "new")
    w = out["members"][0]["metrics"]["abs_w"]
    assert [r["step"] for r in metrics_io.read_metrics(tmp_path / "new")] == list(range(65, 101, 5))
    if "grad_clip" in str(change):  # 40 clipped steps of size 3 from 2^60
        assert w == 2.0**60  # float32: 2^60 - 3 rounds back to 2^60
    else:  # (1 - 0.5)^40 from 2^60
        np.testing.assert_allclose(w, 2.0**20, rtol=1e-5)


def test_resume_past_a_damaged_checkpoint_equals_an_uninterrupted_run(tmp_path, capsys,
                                                                    monkeypatch):
    """Damaged latest -> the one before; killed before the digest -> restored unverified; both
    end as the uninterrupted run (final metrics and metrics.jsonl)."""
    longer = regression_config(num_steps=80)
    run = lambda c, d: train.train_and_evaluate(c, d, task=Regression(c), progress=False)  # noqa: E731
    full = run(longer, tmp_path / "full")
    cut = tmp_path / "cut"
    run(regression_config(), cut)  # checkpoints at 40 and 60
    flip_bytes(cut / "checkpoints" / "60")
    write = checkpoint_digest.write_digest

    def killed_at_80(folder):
        if pathlib.Path(folder).name == "80":
            raise KeyboardInterrupt  # a kill after orbax's save, before its digest
        write(folder)

    monkeypatch.setattr(checkpoint_digest, "write_digest", killed_at_80)
    capsys.readouterr()
    with pytest.raises(KeyboardInterrupt):
        run(longer, cut)
    printed = capsys.readouterr().out
    assert (f"checkpoint {cut / 'checkpoints'}/60 is damaged" in printed
            and "resuming from the previous intact checkpoint, step 40" in printed
            and "resumed from checkpoint at step 40" in printed), printed
    assert sorted(p.name for p in (cut / "checkpoints").iterdir()) == ["60", "60.damaged", "80"]
    monkeypatch.setattr(checkpoint_digest, "write_digest", write)
    out = run(longer, cut)  # restores 80 and only evaluates
    printed = capsys.readouterr().out
    assert (f"checkpoint {cut / 'checkpoints'}/80 has no digest (the run was killed between "
            "its save and its digest); restored it unverified") in printed, printed
    assert out["members"] == full["members"]
    assert metrics_io.read_metrics(cut) == metrics_io.read_metrics(tmp_path / "full")


@pytest.mark.skipif(not shutil.which("make"), reason="needs make")
def test_make_snapshot_copies_the_latest_intact_checkpoint_with_its_digest(tmp_path):
    runs, snaps = tmp_path / "runs", tmp_path / "snapshots"
    c = regression_config()
    train.train_and_evaluate(c, runs / "q", task=Regression(c), progress=False)
    make = ["make", "-s", "-o", ".venv/.installed", f"BIN={pathlib.Path(sys.executable).parent}",
            f"RUNS={runs}", f"SNAPSHOTS={snaps}", "RUN=q", "snapshot"]
    r = subprocess.run(make, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert checkpoint_digest.check(snaps / "q" / "checkpoints" / "60") == (
        checkpoint_digest.INTACT, "")
    flip_bytes(runs / "q" / "checkpoints" / "60")  # a damaged latest one is skipped, named
    r = subprocess.run(make, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "step 40 of" in r.stdout, r.stdout + r.stderr
    assert "step 60: default/" in r.stderr and "(damaged, skipped)" in r.stderr
    assert [p.name for p in (snaps / "q" / "checkpoints").iterdir()] == ["40"]


def test_fork_after_divergence_as_the_message_says(tmp_path):
    """The message's advice through the run API: the same workdir refuses the changed config
    (run identity), ``fork_from`` continues the last good checkpoint with clipping added."""
    from experiments import run

    old, new = tmp_path / "old", tmp_path / "new"
    c = quadratic_config()
    with pytest.raises(train.NonFiniteError) as e:
        run.run(c, workdir=old, task=Quadratic(c))
    assert f"--fork_from={old} --workdir=NEW_WORKDIR" in str(e.value)
    clipped = quadratic_config(optim={"grad_clip": 1.0})
    with pytest.raises(ValueError, match="optim.grad_clip"):
        run.run(clipped, workdir=old, task=Quadratic(clipped))
    r = run.run(clipped, workdir=new, task=Quadratic(clipped), fork_from=old)
    assert r.metrics[0]["abs_w"] == 2.0**60 and int(r.output["train_state"].step[0]) == 100


def _main(*args):
    return subprocess.run([sys.executable, "-m", "experiments.main", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_cli_divergence_without_checkpoint_then_restart_with_lower_lr(tmp_path):
    """A real VAE run at lr=0.3 diverges in step 2, before any checkpoint; the message's own
    advice (--restart with a lower lr) then trains."""
    args = ["--config=configs/vae.py:quick", "--config.num_steps=20", "--config.log_every=10",
            "--config.artifacts=False", f"--workdir={tmp_path}"]
    r = _main(*args, "--config.optim.lr=0.3")
    err = r.stderr.strip().splitlines()[-1]
    assert r.returncode != 0 and err.startswith("error: non-finite loss at step 2 "), r.stderr
    assert f"No checkpoint exists in {tmp_path}/checkpoints" in err and "--restart" in err
    assert not (tmp_path / "final_metrics.json").exists()
    r = _main(*args, "--config.optim.lr=1e-3")  # refused: another lr in this workdir
    assert r.returncode != 0 and "optim.lr" in r.stderr
    r = _main(*args, "--config.optim.lr=1e-3", "--restart")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "final_metrics.json").exists()


@pytest.mark.slow
def test_cli_vae_resumes_past_a_damaged_checkpoint_like_an_uninterrupted_run(tmp_path):
    """Real processes: flipped bytes in a VAE run's latest checkpoint; the rerun says so in one
    line, resumes from the one before and ends with the uninterrupted run's numbers."""
    args = ["--config=configs/vae.py:quick", "--config.log_every=25", "--config.eval_every=50",
            "--config.checkpoint_every=50", "--config.artifacts=False"]
    r = _main(*args, "--config.num_steps=150", f"--workdir={tmp_path / 'full'}")
    assert r.returncode == 0, r.stderr[-2000:]
    r = _main(*args, "--config.num_steps=100", f"--workdir={tmp_path / 'cut'}")
    assert r.returncode == 0, r.stderr[-2000:]
    flip_bytes(tmp_path / "cut" / "checkpoints" / "100")
    r = _main(*args, "--config.num_steps=150", f"--workdir={tmp_path / 'cut'}")
    assert r.returncode == 0, r.stderr[-2000:]
    line = [x for x in r.stdout.splitlines() if "is damaged" in x]
    assert len(line) == 1 and "resuming from the previous intact checkpoint, step 50" in line[0]
    final = lambda d: json.loads((tmp_path / d / "final_metrics.json").read_text())["members"]  # noqa: E731
    assert final("cut") == final("full")
    assert metrics_io.read_metrics(tmp_path / "cut") == metrics_io.read_metrics(tmp_path / "full")
