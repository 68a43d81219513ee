"""Dataset files: the published checksums, the data dir, verified fetches and downloads.

The data dir is, in order: the ``data_dir`` argument (a config's ``data.data_dir``), the
``RGRAD_DATA_DIR`` environment variable, then ``~/.cache/rgrad``. A file that is missing there is
downloaded from its canonical source into the data dir when a network is reachable; a file whose
SHA-256 differs from the published one is never used. The loaders are in :mod:`rgrad.data`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import shutil
import tempfile
import urllib.error
import urllib.request

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
    # Checksum of the parsed values (:func:`values_sha256`), for small text tables whose
    # published copies differ in layout (comments, spaces) but never in their numbers.
    values_sha256: str | None = None


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
        RemoteFile("lynx_hare/hudson-bay-lynx-hare.csv", "", (_LYNX,),
                   values_sha256="3f13ec2a2db821d5b7d2e30b3708077effccfb28e1b30c19fec3af3c2814cbac"),
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


def values_sha256(rows) -> str:
    """SHA-256 of a table's values, row by row (``repr`` of each float, comma-separated): the
    same for every layout of the same numbers, different when any number changes."""
    text = "\n".join(",".join(repr(float(v)) for v in row) for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()


def check_values(relpath: str, path: pathlib.Path, rows) -> None:
    """Raise :class:`DataError` unless ``rows`` parsed from ``path`` are the published values.

    Names the file, its own sha256 and both values checksums, and the fix.
    """
    want = FILES[relpath].values_sha256
    got = values_sha256(rows)
    if want and got != want:
        raise DataError(
            f"{path} (sha256 {_sha256(path)}) holds other values than the published "
            f"{relpath} (values sha256 {got[:16]}..., expected {want[:16]}...). Delete it so it "
            "can be downloaded again, or copy a good file there.")


# Datasets that ship inside packages (no file of ours to checksum): SHA-256 of their values
# (:func:`arrays_sha256` of the arrays the loaders read), so that another package version
# with changed data is refused instead of silently training on it.
PACKAGED: dict[str, str] = {
    "sklearn_digits": "7d6028867799593fb18de3a62ccf01a1882c2ebece9a6ea0e24f0d0d4c7955ad",
    "sklearn_iris": "79fbd12da4bfabccdbd2bfacca758e7b7c4658c16acd74cc10cbc24319c594c6",
    "lifelines_rossi": "69ffc0e5ee82e8fda5329ce85503b0231d9c9e96a3f670bae98b1367000d4da5",
}


def arrays_sha256(*arrays) -> str:
    """SHA-256 of arrays' dtypes, shapes and bytes (integers as int64, floats as float64)."""
    import numpy as np  # datafiles itself needs no numpy

    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        a = np.ascontiguousarray(a, np.float64 if a.dtype.kind == "f" else np.int64)
        h.update(f"{a.dtype.str} {a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def check_packaged(name: str, *arrays) -> None:
    """Raise :class:`DataError` unless ``arrays`` are the values recorded in ``PACKAGED``."""
    got, want = arrays_sha256(*arrays), PACKAGED[name]
    if got != want:
        package = name.split("_")[0]
        raise DataError(f"the {name} data shipped with {package} (values sha256 {got[:16]}...) "
                        f"differ from the recorded ones (expected {want[:16]}...); reinstall "
                        f"{package} at the version of the lock file.")


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
