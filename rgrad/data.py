"""Dataset loaders: checksum-verified, found through a data dir, downloaded when missing.

The data dir is, in order: the ``data_dir`` argument (a config's ``data.data_dir``), the
``RGRAD_DATA_DIR`` environment variable, then ``~/.cache/rgrad``. A file that is missing there is
downloaded from its canonical source into the data dir when a network is reachable; a file whose
SHA-256 differs from the published one is never used.

Every loader returns NumPy arrays on the host (``float32`` images in ``[0, 1]``, shape
``[N, 784]``); experiments move them to the device once.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import pathlib
import shutil
import tempfile
import urllib.error
import urllib.request

import numpy as np

ENV_VAR = "RGRAD_DATA_DIR"


class DataError(RuntimeError):
    """A dataset file is missing, corrupt, or cannot be fetched."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it lives in the data dir, its checksum, where to fetch it."""

    relpath: str  # path inside the data dir
    sha256: str
    urls: tuple[str, ...]
    # Checksum of the decompressed bytes, for files we also accept uncompressed (the .amat files
    # are distributed raw but stored gzipped in some mirrors).
    raw_relpath: str | None = None
    raw_sha256: str | None = None


_MNIST = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_MNIST_LECUN = "http://yann.lecun.com/exdb/mnist/"
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_BINARIZED = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
_LYNX = ("https://raw.githubusercontent.com/stan-dev/example-models/master/knitr/"
         "lotka-volterra/hudson-bay-lynx-hare.csv")


def _idx(folder: str, name: str, sha: str, bases: tuple[str, ...]) -> RemoteFile:
    return RemoteFile(f"{folder}/{name}", sha, tuple(b + name for b in bases))


FILES: dict[str, RemoteFile] = {
    f.relpath: f
    for f in [
        _idx("mnist", "train-images-idx3-ubyte.gz",
             "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
             (_MNIST, _MNIST_LECUN)),
        _idx("mnist", "train-labels-idx1-ubyte.gz",
             "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
             (_MNIST, _MNIST_LECUN)),
        _idx("mnist", "t10k-images-idx3-ubyte.gz",
             "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
             (_MNIST, _MNIST_LECUN)),
        _idx("mnist", "t10k-labels-idx1-ubyte.gz",
             "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
             (_MNIST, _MNIST_LECUN)),
        _idx("fashion_mnist", "train-images-idx3-ubyte.gz",
             "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", (_FASHION,)),
        _idx("fashion_mnist", "train-labels-idx1-ubyte.gz",
             "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", (_FASHION,)),
        _idx("fashion_mnist", "t10k-images-idx3-ubyte.gz",
             "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", (_FASHION,)),
        _idx("fashion_mnist", "t10k-labels-idx1-ubyte.gz",
             "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", (_FASHION,)),
        RemoteFile("binarized_mnist/binarized_mnist_train.amat.gz",
                   "af247bd6075cf9adc4715459dcd5f13eaa99a2c92d8d81379a05da94770b6c0e",
                   (), "binarized_mnist/binarized_mnist_train.amat",
                   "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d"),
        RemoteFile("binarized_mnist/binarized_mnist_valid.amat.gz",
                   "533b71bc0198f4d73c54ae5fe6c96fc08dc3cf1b3fae24c5521dbc0452507e38",
                   (), "binarized_mnist/binarized_mnist_valid.amat",
                   "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2"),
        RemoteFile("binarized_mnist/binarized_mnist_test.amat.gz",
                   "32a3c54d03504632bf9f131b4a148c7567aa6fc87da017049b044bdc14c2a0f2",
                   (), "binarized_mnist/binarized_mnist_test.amat",
                   "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c"),
        RemoteFile("lynx_hare/hudson-bay-lynx-hare.csv",
                   "", (_LYNX,)),  # no published checksum: validated by content instead
    ]
}
# The raw .amat files are downloaded from Larochelle's page; we verify their own checksums.
for _split in ("train", "valid", "test"):
    _f = FILES[f"binarized_mnist/binarized_mnist_{_split}.amat.gz"]
    FILES[_f.relpath] = dataclasses.replace(
        _f, urls=(_BINARIZED + f"binarized_mnist_{_split}.amat",))


def data_dir(override: str | os.PathLike | None = None) -> pathlib.Path:
    """The directory datasets are read from (and downloaded into)."""
    if override:
        return pathlib.Path(override).expanduser()
    if os.environ.get(ENV_VAR):
        return pathlib.Path(os.environ[ENV_VAR]).expanduser()
    return pathlib.Path("~/.cache/rgrad").expanduser()


def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(urls: tuple[str, ...], dest: pathlib.Path) -> None:
    """Fetch the first URL that answers into ``dest`` atomically (never a half-written file)."""
    errors = []
    for url in urls:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with urllib.request.urlopen(url, timeout=30) as r, tempfile.NamedTemporaryFile(
                    dir=dest.parent, delete=False) as tmp:
                shutil.copyfileobj(r, tmp)
            os.replace(tmp.name, dest)
            return
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            errors.append(f"{url}: {e}")
    raise DataError("could not download " + "; ".join(errors))


def fetch(relpath: str, root: str | os.PathLike | None = None, download: bool = True
          ) -> pathlib.Path:
    """Path to a verified dataset file, downloading it when missing.

    Args:
      relpath: key of ``FILES`` (e.g. ``"mnist/t10k-images-idx3-ubyte.gz"``).
      root: data dir override.
      download: whether a missing file may be fetched from its canonical source.

    Raises:
      DataError: naming where the loader looked and what to do.
    """
    spec = FILES[relpath]
    base = data_dir(root)
    candidates = [(base / spec.relpath, spec.sha256)]
    if spec.raw_relpath:
        candidates.append((base / spec.raw_relpath, spec.raw_sha256))
    for path, sha in candidates:
        if path.is_file():
            if sha and _sha256(path) != sha:
                raise DataError(
                    f"{path} is corrupt (sha256 mismatch; expected {sha}). Delete it so it can "
                    f"be downloaded again, or copy a good file there.")
            return path
    where = " or ".join(str(p) for p, _ in candidates)
    hint = (f"Set {ENV_VAR} (or the config's data.data_dir) to a folder holding "
            f"{spec.relpath}, or connect to a network so it can be downloaded.")
    if not download or not spec.urls:
        raise DataError(f"dataset file not found: looked for {where}. {hint}")
    dest = base / (spec.raw_relpath if spec.raw_relpath else spec.relpath)
    try:
        _download(spec.urls, dest)
    except DataError as e:
        raise DataError(f"dataset file not found: looked for {where}, and {e}. {hint}") from None
    sha = spec.raw_sha256 if spec.raw_relpath else spec.sha256
    if sha and _sha256(dest) != sha:
        dest.unlink()
        raise DataError(f"downloaded {dest} failed its sha256 check and was removed. {hint}")
    return dest


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
    img = d.images.astype(np.float32) / 16.0  # [N, 8, 8]
    # Nearest-neighbour upsampling to 24x24, padded to 28x28 (MNIST's 20x20 box + margin).
    img = np.kron(img, np.ones((3, 3), np.float32))
    img = np.pad(img, ((0, 0), (2, 2), (2, 2)))
    n_train = int(0.9 * len(img))
    sl = slice(0, n_train) if split == "train" else slice(n_train, None)
    return Split(img[sl].reshape(-1, 784), d.target[sl].astype(np.int32))


def load_lynx_hare(root=None, download=True) -> dict[str, np.ndarray]:
    """Hudson's Bay lynx and hare pelts 1900-1920: ``{"year", "lynx", "hare"}`` (thousands)."""
    path = fetch("lynx_hare/hudson-bay-lynx-hare.csv", root, download)
    text = path.read_text().strip().splitlines()
    header = [h.strip().strip('"').lower() for h in text[0].split(",")]
    try:
        rows = np.array([[float(v) for v in line.split(",")] for line in text[1:]])
        cols = {name: rows[:, header.index(name)] for name in ("year", "lynx", "hare")}
    except (ValueError, IndexError):
        raise DataError(f"{path} is not the lynx-hare CSV (columns Year,Lynx,Hare).") from None
    if len(rows) != 21 or cols["year"][0] != 1900:
        raise DataError(f"{path}: expected 21 years from 1900, got {len(rows)} rows.")
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
