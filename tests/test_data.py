"""Dataset loaders: genuine files verified, corrupt/missing files named, fallback explicit."""

import gzip
import os
import shutil

import numpy as np
import pytest

from rgrad import data


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
