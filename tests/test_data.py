"""Dataset loaders: genuine files verified, corrupt/missing files named, fallback explicit."""

import gzip
import hashlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from rgrad import data, datafiles


def test_mnist_test_split_is_genuine():
    s = data.load("mnist", "test")
    assert s.images.shape == (10000, 784) and s.images.dtype == np.float32
    assert 0.0 <= s.images.min() and s.images.max() == 1.0
    assert np.bincount(s.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974,
                                              1009]


def test_fashion_mnist_has_1000_test_items_per_class():
    s = data.load("fashion_mnist", "test")
    assert np.bincount(s.labels).tolist() == [1000] * 10


def test_binarized_mnist_is_binary_and_split_as_published():
    s = data.load("binarized_mnist", "valid")
    assert s.images.shape == (10000, 784)
    assert set(np.unique(s.images)) == {0.0, 1.0}


def test_raw_amat_accepted_and_verified(tmp_path):
    # Larochelle's page serves the raw .amat; its checksum is verified like the gzip's.
    src = os.path.join(os.environ["RGRAD_DATA_DIR"], "binarized_mnist",
                       "binarized_mnist_test.amat.gz")
    (tmp_path / "binarized_mnist").mkdir()
    with gzip.open(src) as f, open(tmp_path / "binarized_mnist/binarized_mnist_test.amat",
                                   "wb") as g:
        shutil.copyfileobj(f, g)
    x = data.load_binarized_mnist("test", root=tmp_path, download=False).images
    np.testing.assert_array_equal(x, data.load("binarized_mnist", "test").images)


def test_corrupt_file_is_refused_with_the_fix(tmp_path):
    (tmp_path / "mnist").mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / "mnist" / name).write_bytes(b"not mnist")
    with pytest.raises(data.DataError, match="corrupt.*sha256.*Delete it"):
        data.load("mnist", "test", root=tmp_path, download=False)


def test_missing_file_names_where_it_looked(tmp_path):
    with pytest.raises(data.DataError, match=f"looked for {tmp_path}.*RGRAD_DATA_DIR"):
        data.load("fashion_mnist", "train", root=tmp_path, download=False)


def test_fallback_only_without_a_configured_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("RGRAD_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))  # empty default cache
    s, used = data.load_with_fallback("mnist", "test", download=False)
    assert used == "sklearn_digits" and s.images.shape[1] == 784
    with pytest.raises(data.DataError):
        data.load_with_fallback("mnist", "test", root=tmp_path, download=False)


def test_lynx_hare():
    d = data.load_lynx_hare()
    assert d["year"][0] == 1900 and d["year"][-1] == 1920
    assert d["hare"][0] == 30.0 and d["lynx"][0] == 4.0


def _lynx_copy(tmp_path, edit=lambda t: t):
    src = os.path.join(os.environ["RGRAD_DATA_DIR"], "lynx_hare", "hudson-bay-lynx-hare.csv")
    (tmp_path / "lynx_hare").mkdir()
    dest = tmp_path / "lynx_hare" / "hudson-bay-lynx-hare.csv"
    with open(src) as f:
        dest.write_text(edit(f.read()))
    return dest


def test_lynx_hare_with_one_value_changed_is_refused_naming_file_and_checksum(tmp_path):
    dest = _lynx_copy(tmp_path, lambda t: t.replace("1902,9.8,70.2", "1902,9.8,70.3"))
    with pytest.raises(data.DataError) as e:
        data.load_lynx_hare(tmp_path, download=False)
    msg = str(e.value)
    sha = hashlib.sha256(dest.read_bytes()).hexdigest()
    assert str(dest) in msg and sha in msg and "Delete it" in msg and "\n" not in msg
    # An unchanged copy passes: the refusal is the changed value's.
    ok = tmp_path / "ok"
    ok.mkdir()
    _lynx_copy(ok)
    assert data.load_lynx_hare(ok, download=False)["hare"][2] == 70.2


def test_lynx_hare_in_the_stan_case_study_layout_is_accepted(tmp_path):
    # The canonical download has comment lines and ", " separators: same values, same checksum.
    def stan_layout(text):
        lines = text.strip().splitlines()
        return "# Data from the Stan case study\n# Downloaded\n" + "\n".join(
            ", ".join(v.strip() for v in line.split(",")) for line in lines)

    _lynx_copy(tmp_path, stan_layout)
    d = data.load_lynx_hare(tmp_path, download=False)
    np.testing.assert_array_equal(d["lynx"], data.load_lynx_hare()["lynx"])


def test_values_checksum_changes_with_any_value():
    rows = np.array([[1900.0, 4.0, 30.0], [1901.0, 6.1, 47.2]])
    base = datafiles.values_sha256(rows)
    assert datafiles.values_sha256(rows.copy()) == base
    for i in np.ndindex(rows.shape):
        changed = rows.copy()
        changed[i] = np.nextafter(changed[i], np.inf)  # one ulp
        assert datafiles.values_sha256(changed) != base


def _load_digits():
    return data.load_sklearn_digits("train")


def _load_iris():
    from experiments import run
    from experiments.tasks import mixture

    return mixture.iris(run.resolve("configs/mixture.py:quick", {"dataset": "iris"}))


def _load_rossi():
    from experiments.tasks import survival

    return survival.load_rossi()


def _bump_digits(d):
    d.images = d.images.copy()
    d.images[0, 3, 3] += 1
    return d


def _bump_iris(d):
    d.data = d.data.copy()
    d.data[7, 2] += 0.1
    return d


def _bump_rossi(d):
    d = d.copy()
    d.loc[5, "prio"] += 1
    return d


@pytest.mark.parametrize("module,name,load,bump", [
    ("sklearn.datasets", "load_digits", _load_digits, _bump_digits),
    ("sklearn.datasets", "load_iris", _load_iris, _bump_iris),
    ("lifelines.datasets", "load_rossi", _load_rossi, _bump_rossi),
], ids=["digits", "iris", "rossi"])
def test_packaged_datasets_are_checked_against_their_recorded_values(monkeypatch, module, name,
                                                                      load, bump):
    import importlib

    load()  # the installed package's copy passes
    mod = importlib.import_module(module)
    real = getattr(mod, name)
    monkeypatch.setattr(mod, name, lambda *a, **k: bump(real(*a, **k)))
    with pytest.raises(data.DataError, match=r"data shipped with \w+ \(values sha256 .*differ"):
        load()


def test_ode_workdir_is_not_touched_on_a_changed_lynx_hare_file(tmp_path):
    # The entry point refuses before the workdir is read or written: a finished run's files
    # stay as they were (the rerun used to resume on the changed series and rewrite them).
    root = tmp_path / "data"
    root.mkdir()
    dest = _lynx_copy(root, lambda t: t.replace("1902,9.8,70.2", "1902,9.8,70.3"))
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "final_metrics.json").write_text('{"sentinel": 1}')
    p = subprocess.run([sys.executable, "-m", "experiments.main",
                        "--config=configs/ode_inference.py:quick", f"--workdir={workdir}",
                        f"--config.data.data_dir={root}"],
                       cwd=os.path.dirname(os.path.dirname(__file__)), capture_output=True,
                       text=True, timeout=300)
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert p.returncode == 1 and len(errors) == 1, p.stderr[-2000:]
    assert str(dest) in errors[0] and hashlib.sha256(dest.read_bytes()).hexdigest() in errors[0]
    assert sorted(x.name for x in workdir.iterdir()) == ["final_metrics.json"]
    assert (workdir / "final_metrics.json").read_text() == '{"sentinel": 1}'
