"""The (members, data) device mesh: padding of members, batches split over ``data``.

Runs on 4 host devices in a subprocess (``--xla_force_host_platform_device_count=4``): the
same task on one device and on the mesh must end with the same numbers up to float
reassociation, and the data-parallel step must average its gradient with an all-reduce that
the compiler inserted.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from test_train import regression_config  # noqa: E402

from rgrad import mesh  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _four_devices(script: str, *args: str, timeout: int = 400) -> str:
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    env = {**os.environ, "XLA_FLAGS": flags.strip()}
    r = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return r.stdout


def test_bad_meshes_are_one_line_errors():
    with pytest.raises(ValueError, match=r"mesh.data=2 must divide the 1 devices"):
        mesh.make_mesh(regression_config(mesh={"data": 2, "members": 0}))
    with pytest.raises(ValueError, match=r"needs 2 devices, there are 1"):
        mesh.make_mesh(regression_config(mesh={"data": 1, "members": 2}))
    m = mesh.make_mesh(regression_config())
    assert dict(m.shape) == {"members": 1, "data": 1}
    layout = mesh.Layout(m, 3)
    assert layout.padded == 3 and layout.message is None


REGRESSION = """
import json, sys
import jax
import numpy as np
sys.path.insert(0, "tests")
from test_train import Regression, regression_config
from rgrad import mesh, train
from rgrad.chunk import compile_chunk

assert jax.device_count() == 4
def run(tag, **kw):
    c = regression_config(**kw)
    out = train.train_and_evaluate(c, sys.argv[1] + "/" + tag, task=Regression(c), progress=False)
    sharding = jax.tree.leaves(out["train_state"].params)[0].sharding
    return [m["metrics"] for m in out["members"]], len(sharding.device_set)

one = {"members": 1, "data": 1}
res = {}
for seeds in (1, 3):
    res[f"one{seeds}"] = run(f"one{seeds}", num_seeds=seeds, mesh=one)
res["pad3"] = run("pad3", num_seeds=3)  # 3 members on a members axis of 4: padded to 4
res["data4"] = run("data4", num_seeds=1, mesh={"data": 4, "members": 0})
res["grid2x2"] = run("grid2x2", num_seeds=3, mesh={"data": 2, "members": 2})

# The data-parallel step: the batch split over 4 devices, the gradient all-reduced.
c = regression_config(mesh={"data": 4, "members": 0})
task = Regression(c)
grid = mesh.make_mesh(c)
tx = task.optimizer(task.schedule(None, 10))
ts = train.init_members(task, tx, c, train.members(c, task), sharding=mesh.Layout(grid, 1).stored)
data = jax.device_put(task.dataset(), mesh.Layout(grid, 1).replicated)
for label, t in (("split", mesh.data_parallel(task, grid)), ("whole", task)):
    run_chunk, _ = compile_chunk(t, tx, None)
    hlo = run_chunk.lower(ts, data, np.int32(2)).compile().as_text()
    res[label] = "all-reduce" in hlo
print("RESULT", json.dumps(res))
"""


def test_members_padded_and_batches_split_give_the_one_device_numbers(tmp_path):
    out = _four_devices(REGRESSION, str(tmp_path))
    res = json.loads(out.split("RESULT", 1)[1])
    assert "3 members on a members axis of 4 devices: padded to 4" in out
    assert res["split"] and not res["whole"]  # the compiler averages the split batch's gradient
    (one1, n1), (one3, n3) = res["one1"], res["one3"]
    assert n1 == n3 == 1
    for tag, want, devices in (("pad3", one3, 4), ("data4", one1, 4), ("grid2x2", one3, 4)):
        got, n = res[tag]
        assert n == devices, (tag, n)
        assert len(got) == len(want), tag
        for g, w in zip(got, want, strict=True):
            for k in w:
                assert abs(g[k] - w[k]) <= 1e-5 * (1 + abs(w[k])), (tag, k, g[k], w[k])


VAE = """
import json
from experiments import run
out = {}
for tag, mesh in (("one", {"mesh.members": 1, "mesh.data": 1}), ("data4", {"mesh.data": 4})):
    r = run.run("configs/vae.py:quick", {**mesh, "artifacts": False})
    out[tag] = r.metrics[0]["test_elbo"]
print("RESULT", json.dumps(out))
"""


@pytest.mark.slow
def test_vae_with_its_batch_split_over_four_devices_gives_the_one_device_elbo():
    res = json.loads(_four_devices(VAE).split("RESULT", 1)[1])
    assert abs(res["data4"] - res["one"]) < 1e-3, res  # measured: 1.5e-5 (ELBO -200.05)


def test_a_batch_with_nothing_to_split_is_refused():
    import jax

    grid = mesh.make_mesh(regression_config())
    fake = type("M", (), {"shape": {"data": 2}})()  # shard_batch reads only the axis size
    with pytest.raises(ValueError, match=r"mesh.data=2: this task's batch holds no array"):
        mesh.shard_batch(jax.random.key(0), fake)
    assert mesh.shard_batch({"x": 1}, grid) == {"x": 1}  # one data device: untouched
