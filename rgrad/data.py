"""Dataset loaders: checksum-verified, found through a data dir, downloaded when missing.

Where files are looked for and how they are verified and fetched is :mod:`rgrad.datafiles`
(its names are re-exported here). Every loader returns NumPy arrays on the host (``float32``
images in ``[0, 1]``, shape ``[N, 784]``); experiments move them to the device once.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pathlib

import numpy as np

from rgrad.datafiles import (
    ENV_VAR,
    FILES,
    DataError,
    RemoteFile,
    check_packaged,
    check_values,
    data_dir,
    fetch,
)

__all__ = ["ENV_VAR", "FILES", "DataError", "RemoteFile", "Split", "check_packaged", "data_dir",
           "fetch", "labelled_splits", "load", "load_binarized_mnist", "load_lynx_hare",
           "load_mnist_like", "load_sklearn_digits", "load_with_fallback", "read_idx"]


def _open(path: pathlib.Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: pathlib.Path) -> np.ndarray:
    """Parse an IDX file (optionally gzipped) into a uint8 array."""
    with _open(path) as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (2049, 2051):
        raise DataError(f"{path} is not an IDX file (magic {magic}).")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _read_amat(path: pathlib.Path) -> np.ndarray:
    """Parse Larochelle's binarized-MNIST .amat text: 784 space-separated 0/1 per row."""
    with _open(path) as f:
        raw = np.frombuffer(f.read(), np.uint8)
    row = 784 * 2  # one digit and one separator per value
    if raw.size % row or not np.isin(raw[1::2], (ord(" "), ord("\n"))).all():
        raise DataError(f"{path} is not a binarized-MNIST .amat file.")
    return (raw[0::2] - ord("0")).reshape(-1, 784).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Split:
    """Images ``[N, 784]`` float32 in [0, 1] and labels ``[N]`` int32 (-1 where unknown)."""

    images: np.ndarray
    labels: np.ndarray


def load_mnist_like(name: str, split: str, root=None, download=True) -> Split:
    """MNIST or Fashion-MNIST, ``split`` in {"train", "test"}, grey levels scaled to [0, 1]."""
    if name not in ("mnist", "fashion_mnist"):
        raise ValueError(f"name must be 'mnist' or 'fashion_mnist', got {name!r}.")
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    images = read_idx(fetch(f"{name}/{prefix}-images-idx3-ubyte.gz", root, download))
    labels = read_idx(fetch(f"{name}/{prefix}-labels-idx1-ubyte.gz", root, download))
    return Split(images.reshape(len(images), -1).astype(np.float32) / 255.0,
                 labels.astype(np.int32))


def load_binarized_mnist(split: str, root=None, download=True) -> Split:
    """Static binarized MNIST (Larochelle & Murray 2011): 50k/10k/10k train/valid/test."""
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}.")
    x = _read_amat(fetch(f"binarized_mnist/binarized_mnist_{split}.amat.gz", root, download))
    return Split(x, np.full(len(x), -1, np.int32))


def load_sklearn_digits(split: str) -> Split:
    """scikit-learn's 8x8 digits (1797 images, ships offline), upsampled to 28x28 like MNIST.

    The fallback data of ``make run`` on a machine with no data dir and no network: 90% train,
    10% test, fixed split.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    check_packaged("sklearn_digits", d.images, d.target)  # a changed copy is refused
    img = d.images.astype(np.float32) / 16.0  # [N, 8, 8]
    # Nearest-neighbour upsampling to 24x24, padded to 28x28 (MNIST's 20x20 box + margin).
    img = np.kron(img, np.ones((3, 3), np.float32))
    img = np.pad(img, ((0, 0), (2, 2), (2, 2)))
    n_train = int(0.9 * len(img))
    sl = slice(0, n_train) if split == "train" else slice(n_train, None)
    return Split(img[sl].reshape(-1, 784), d.target[sl].astype(np.int32))


def load_lynx_hare(root=None, download=True) -> dict[str, np.ndarray]:
    """Hudson's Bay lynx and hare pelts 1900-1920: ``{"year", "lynx", "hare"}`` (thousands).

    Reads the Stan case study's CSV (``#`` comment lines, ``Year, Lynx, Hare``) or the same
    table without comments or spaces; its values must match the published checksum
    (``FILES[...].values_sha256``), so a file with any number changed is refused.
    """
    relpath = "lynx_hare/hudson-bay-lynx-hare.csv"
    path = fetch(relpath, root, download)
    text = [line for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    try:
        header = [h.strip().strip('"').lower() for h in text[0].split(",")]
        rows = np.array([[float(v) for v in line.split(",")] for line in text[1:]])
        cols = {name: rows[:, header.index(name)] for name in ("year", "lynx", "hare")}
    except (ValueError, IndexError):
        raise DataError(f"{path} is not the lynx-hare CSV (columns Year,Lynx,Hare).") from None
    if len(rows) != 21 or cols["year"][0] != 1900:
        raise DataError(f"{path}: expected 21 years from 1900, got {len(rows)} rows.")
    check_values(relpath, path, np.stack([cols[n] for n in ("year", "lynx", "hare")], -1))
    return cols


_LOADED: dict[tuple[str, str, str], Split] = {}


def load(name: str, split: str, root=None, download=True) -> Split:
    """Dispatch by dataset name: mnist, fashion_mnist, binarized_mnist, sklearn_digits.

    A split is read, verified and decoded once per process and then shared: its arrays are
    read-only (copy before modifying in place).
    """
    loaders = {"mnist": lambda: load_mnist_like(name, split, root, download),
               "fashion_mnist": lambda: load_mnist_like(name, split, root, download),
               "binarized_mnist": lambda: load_binarized_mnist(split, root, download),
               "sklearn_digits": lambda: load_sklearn_digits(split)}
    if name not in loaders:
        raise ValueError(
            f"unknown dataset {name!r}; use one of mnist, fashion_mnist, binarized_mnist, "
            "sklearn_digits.")
    key = (name, split, str(data_dir(root)))
    if key not in _LOADED:
        out = loaders[name]()
        for a in (out.images, out.labels):
            a.setflags(write=False)
        _LOADED[key] = out
    return _LOADED[key]


def load_with_fallback(name: str, split: str, root=None, download=True) -> tuple[Split, str]:
    """``load``, falling back to scikit-learn's digits when no data dir was configured.

    The fallback happens only when neither ``root`` nor ``RGRAD_DATA_DIR`` is set and the
    default cache lacks the files (a fresh machine with no network); a data dir that was set
    explicitly but lacks the files is an error. Returns the split and the name of the dataset
    actually used, so callers can say which.
    """
    explicit = bool(root) or bool(os.environ.get(ENV_VAR))
    try:
        return load(name, split, root, download), name
    except DataError as e:
        if explicit:
            raise
        print(f"[rgrad.data] {e}\n[rgrad.data] falling back to sklearn_digits (8x8 digits "
              "upsampled to 28x28), which ships with scikit-learn.")
        return load_sklearn_digits(split), "sklearn_digits"


def labelled_splits(config, arrays=None) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """``({"x", "y"} train, test_x, test_y)`` of a labelled image dataset for a task.

    Reads ``config.data`` (``name``, ``data_dir``, ``download``, ``max_train``: 0 = all) and
    ``config.eval.num_examples`` (test rows kept, 0 = all), or takes ``arrays`` =
    (train_x, train_y, test_x, test_y) instead of loading.
    """
    d = config.data
    if arrays is None:
        train, _ = load_with_fallback(d.name, "train", d.data_dir or None, d.download)
        test, _ = load_with_fallback(d.name, "test", d.data_dir or None, d.download)
        arrays = (train.images, train.labels, test.images, test.labels)
    tx, ty, vx, vy = arrays
    n = d.max_train or len(tx)
    m = config.eval.num_examples or len(vx)
    train = {"x": np.asarray(tx[:n], np.float32), "y": np.asarray(ty[:n], np.int32)}
    return train, np.asarray(vx[:m], np.float32), np.asarray(vy[:m], np.int32)
