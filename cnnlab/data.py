"""MNIST: read the four IDX files, find them on disk, download them when allowed.

The MNIST database (Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0) ships as
four files in the IDX format::

    train-images-idx3-ubyte   60000 x 28 x 28 pixels (uint8, 0 = background)
    train-labels-idx1-ubyte   60000 labels 0..9
    t10k-images-idx3-ubyte    10000 x 28 x 28
    t10k-labels-idx1-ubyte    10000 labels

An IDX file is a tiny header followed by raw bytes::

    bytes 0-1   0x00 0x00
    byte  2     element type (0x08 = unsigned byte)
    byte  3     number of dimensions d
    4 * d bytes the size of each dimension, big-endian uint32
    the rest    prod(sizes) elements, row-major

so the "magic number" (the first four bytes read as a big-endian int) is
2051 = 0x00000803 for the image files (uint8, 3 dims) and 2049 = 0x00000801 for
the label files (uint8, 1 dim).

Where the files are looked for (first one given wins):

1. the ``root`` argument,
2. the ``CNNLAB_DATA`` environment variable,
3. a user cache, ``$XDG_CACHE_HOME/cnnlab/mnist`` (``~/.cache/cnnlab/mnist``).

Inside that folder each file may be plain or gzipped (``name`` or ``name.gz``)
and may sit in the torchvision layout ``MNIST/raw/``. Missing files are
downloaded into the folder only when ``download=True``; every download is
checked against the MD5 of the uncompressed file and moved into place
atomically, so an interrupted download never leaves a half-written file.
"""

import gzip
import hashlib
import os
import tempfile
from pathlib import Path
from urllib.request import urlopen

import numpy as np

from cnnlab._validation import check_int

# Public mirrors, tried in order.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# name of the uncompressed file, and the MD5 of its (uncompressed) bytes
FILES = {
    "train_images": ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
    "train_labels": ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
    "test_images": ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    "test_labels": ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
}

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

# Pixel statistics of the training set, on the [0, 1] scale.
MEAN = 0.1307
STD = 0.3081

# IDX element-type byte -> big-endian NumPy dtype
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class MNISTNotFoundError(FileNotFoundError):
    """The MNIST files are not on disk and could not (or may not) be downloaded."""


class MNISTChecksumError(ValueError):
    """A downloaded file does not have the published MD5 checksum."""


# --------------------------------------------------------------------------- IDX


def parse_idx(data, source="<bytes>"):
    """Decode the bytes of one IDX file into an ndarray of its native shape.

    ``source`` names the file in error messages. Raises ``ValueError`` when the
    header is malformed or the payload is not exactly ``prod(sizes)`` elements.
    """
    data = bytes(data)
    if len(data) < 4:
        raise ValueError(f"{source}: too short to be an IDX file ({len(data)} bytes, need a 4-byte header)")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{source}: not an IDX file (first two bytes are {data[0]:#04x} {data[1]:#04x}, need 0x00 0x00)"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"{source}: unknown IDX element type {type_code:#04x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{source}: truncated header ({len(data)} bytes, need {header} for {ndim} dimensions)")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(
            f"{source}: file {what}: header says shape {shape} = {expected} bytes, "
            f"but the file has {len(data)} bytes (delete it and download again)"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # native byte order, own copy


def read_idx(path, magic=None):
    """Read an IDX file (plain or ``.gz``) into an ndarray.

    ``magic``: the expected magic number (2051 images, 2049 labels), checked if given.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except (EOFError, gzip.BadGzipFile, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(
            f"{path}: cannot decompress ({error}); the file is corrupt or truncated, delete it and download again"
        ) from error
    if magic is not None and len(data) >= 4:
        found = int.from_bytes(data[:4], "big")
        if found != magic:
            raise ValueError(
                f"{path}: bad magic number {found}, need {magic} ({'images' if magic == IMAGES_MAGIC else 'labels'})"
            )
    return parse_idx(data, source=str(path))


def _read_pair(images_path, labels_path):
    """Read and cross-check one (images, labels) pair of files."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: images must be (N, 28, 28), got shape {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: labels must be 1-D (N,), got shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; they must match"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: labels must be digits 0..9, found {labels.max()}")
    return images, labels


# ----------------------------------------------------------------- where to look


def default_cache_dir():
    """``$XDG_CACHE_HOME/cnnlab/mnist``, or ``~/.cache/cnnlab/mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnnlab" / "mnist"


def data_dir(root=None):
    """The folder MNIST is read from: ``root``, else ``$CNNLAB_DATA``, else the user cache."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("CNNLAB_DATA"):
        return Path(os.environ["CNNLAB_DATA"]).expanduser()
    return default_cache_dir()


def find_file(folder, name):
    """Path of ``name`` in ``folder`` (plain, ``.gz``, or under ``MNIST/raw/``), or None."""
    folder = Path(folder)
    for sub in (folder, folder / "MNIST" / "raw"):
        for candidate in (sub / name, sub / (name + ".gz")):
            if candidate.is_file():
                return candidate
    return None


def _where(root):
    if root is not None:
        return "the folder given as root="
    if os.environ.get("CNNLAB_DATA"):
        return "the folder named by $CNNLAB_DATA"
    return "the user cache folder, as neither root= nor $CNNLAB_DATA was given"


# -------------------------------------------------------------------- download


def _fetch(url, dest, desc=None):
    """Copy ``url`` into the open binary file ``dest``, with a progress bar.

    Tests replace this (or ``urlopen``) to serve local files; ``file://`` URLs
    work too.
    """
    from tqdm.auto import tqdm

    with urlopen(url, timeout=30) as response:
        total = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        with tqdm(
            total=int(total) if total else None,
            unit="B",
            unit_scale=True,
            desc=desc or url.rsplit("/", 1)[-1],
            leave=False,
        ) as bar:
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                dest.write(chunk)
                bar.update(len(chunk))


def _md5_gunzipped(path):
    """MD5 hex digest of the gzipped file's uncompressed content."""
    digest = hashlib.md5()
    with gzip.open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(name, md5, folder, mirrors=None):
    """Download ``name.gz`` into ``folder`` from the first mirror that serves it intact.

    The bytes go to a temporary file in ``folder``; only after the MD5 of the
    uncompressed content matches ``md5`` is it renamed (``os.replace``, atomic)
    to ``folder/name.gz``. On any failure, including KeyboardInterrupt, the
    temporary file is removed. Returns the final path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / (name + ".gz")
    failures, bad_checksum = [], False
    for mirror in mirrors if mirrors is not None else MIRRORS:
        url = mirror + name + ".gz"
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        try:
            with os.fdopen(fd, "wb") as dest:
                _fetch(url, dest, desc=name)
            try:
                got = _md5_gunzipped(tmp)
            except (EOFError, OSError) as error:
                got = f"unreadable ({error})"
            if got != md5:
                failures.append(f"{url}: MD5 of the uncompressed file is {got}, expected {md5}")
                bad_checksum = True
                continue
            os.replace(tmp, final)
            return final
        except OSError as error:  # URLError, HTTPError, timeouts, disk errors
            failures.append(f"{url}: {getattr(error, 'reason', error)}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    details = "; ".join(failures)
    if bad_checksum:
        raise MNISTChecksumError(f"could not download an intact {name}: {details}")
    raise MNISTNotFoundError(
        f"could not download {name} into {folder} (offline?): {details}. Copy the four MNIST files "
        f"there by hand, or set CNNLAB_DATA / pass root= to a folder that has them."
    )


# ------------------------------------------------------------------ public API


def load_mnist(root=None, download=True):
    """Load MNIST as uint8 arrays.

    Returns ``(x_train, y_train, x_test, y_test)`` with shapes
    ``(60000, 28, 28)``, ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``, all uint8
    (pixels 0..255, labels 0..9).

    The files are read from ``root``, else ``$CNNLAB_DATA``, else the user cache
    (see :func:`data_dir`). Missing files are downloaded there (with checksum)
    when ``download`` is true; otherwise ``MNISTNotFoundError`` says what to do.
    """
    if not isinstance(download, bool):
        raise TypeError(f"download must be True or False, got {download!r}")
    folder = data_dir(root)
    paths, missing = {}, []
    for key, (name, _) in FILES.items():
        paths[key] = find_file(folder, name)
        if paths[key] is None:
            missing.append(key)
    if missing:
        names = ", ".join(FILES[k][0] for k in missing)
        if not download:
            raise MNISTNotFoundError(
                f"MNIST file(s) {names} not found in {folder} or its MNIST/raw/ subfolder "
                f"({_where(root)}); set CNNLAB_DATA or pass root= to a folder holding the "
                f"four IDX files (.gz or not), or call load_mnist(download=True) to download them."
            )
        for key in missing:
            name, md5 = FILES[key]
            paths[key] = download_file(name, md5, folder)
    x_train, y_train = _read_pair(paths["train_images"], paths["train_labels"])
    x_test, y_test = _read_pair(paths["test_images"], paths["test_labels"])
    return x_train, y_train, x_test, y_test


def normalize_images(images, mean=MEAN, std=STD, dtype=np.float32):
    """uint8 images ``(N, H, W)`` -> floats ``(N, 1, H, W)`` equal to ``(x / 255 - mean) / std``.

    With ``mean=0, std=1`` this is just the [0, 1] scaling.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be 3-D (N, H, W), got a {images.ndim}-D array of shape {images.shape}")
    x = images.astype(dtype) / 255.0  # [0, 255] -> [0, 1]
    x = (x - mean) / std  # zero mean, unit variance over the training set
    return x[:, None, :, :].astype(dtype, copy=False)


def mnist_arrays(split="train", normalize=True, dtype=np.float32, limit=None, root=None, download=True):
    """One split of MNIST ready for a network.

    Returns ``(x, y)``: ``x`` of shape ``(N, 1, 28, 28)`` and ``dtype``, scaled to
    ``(x / 255 - MEAN) / STD`` when ``normalize`` (else to [0, 1]);
    ``y`` int64 labels ``(N,)``. ``limit`` keeps the first ``limit`` examples.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None:
        limit = check_int(limit, "limit", minimum=1)
    x_train, y_train, x_test, y_test = load_mnist(root=root, download=download)
    images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    if normalize:
        x = normalize_images(images, dtype=dtype)
    else:
        x = normalize_images(images, mean=0.0, std=1.0, dtype=dtype)
    return x, labels.astype(np.int64)


def batches(x, y, batch_size, shuffle=True, seed=0):
    """Yield ``(x_batch, y_batch)`` pairs covering ``x`` and ``y`` once.

    ``x``: (N, ...), ``y``: (N,). The order is shuffled with ``seed`` when
    ``shuffle``; the last batch may be smaller than ``batch_size``.
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}; they must match")
    n = len(x)
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        yield x[index], y[index]
