"""cnnlab.data: IDX parsing, where MNIST is looked for, checksummed atomic downloads.

Never uses the network: downloads are served from ``file://`` copies of the
shared MNIST files, or from a fake ``urlopen``.
"""

import gzip
import hashlib
import io
import shutil
import struct

import numpy as np
import pytest

from cnnlab import data
from cnnlab.data import FILES, MNISTChecksumError, MNISTNotFoundError, load_mnist

NAMES = [name for name, _ in FILES.values()]


def gunzip_bytes(path):
    with gzip.open(path, "rb") as f:
        return f.read()


_RAW = {}


def raw_bytes(mnist_dir, name):
    """The uncompressed bytes of ``name`` from the shared folder (read once)."""
    if (mnist_dir, name) not in _RAW:
        path = data.find_file(mnist_dir, name)
        _RAW[mnist_dir, name] = gunzip_bytes(path) if path.suffix == ".gz" else path.read_bytes()
    return _RAW[mnist_dir, name]


def copy_all(mnist_dir, dest, gz=True, sub=""):
    """Copies of the four files in ``dest[/sub]``, gzipped or plain."""
    folder = dest / sub if sub else dest
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        source = data.find_file(mnist_dir, name)
        if gz and source.suffix == ".gz":
            shutil.copy(source, folder / (name + ".gz"))
        elif gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw_bytes(mnist_dir, name), 1, mtime=0))
        else:
            (folder / name).write_bytes(raw_bytes(mnist_dir, name))
    return dest


def idx_bytes(array, magic_type=0x08):
    header = bytes([0, 0, magic_type, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + array.astype(">u1").tobytes()


@pytest.fixture
def no_network(monkeypatch):
    """Fail loudly if anything tries to download."""

    def refuse(*args, **kwargs):
        raise AssertionError("the test tried to use the network")

    monkeypatch.setattr(data, "urlopen", refuse)


# ------------------------------------------------------------------ real files


def test_real_files_shapes_dtypes_and_labels(mnist):
    x_train, y_train, x_test, y_test = mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    # Published statistics of the training pixels on [0, 1] (README: 0.1307 / 0.3081).
    pixels = x_train / 255.0
    assert abs(pixels.mean() - 0.1307) < 5e-4 and abs(pixels.std() - 0.3081) < 5e-4
    # MNIST's first training digit is a 5, its first test digit a 7.
    assert y_train[0] == 5 and y_test[0] == 7


@pytest.mark.parametrize("key", list(FILES))
def test_real_files_md5_of_uncompressed_content(mnist_dir, key):
    name, md5 = FILES[key]
    assert hashlib.md5(raw_bytes(mnist_dir, name)).hexdigest() == md5


def test_uncompressed_layout_gives_same_arrays(mnist, mnist_dir, tmp_path, no_network):
    copy_all(mnist_dir, tmp_path, gz=False)
    loaded = load_mnist(root=tmp_path, download=False)
    for a, b in zip(loaded, mnist):
        np.testing.assert_array_equal(a, b)


def test_torchvision_layout(mnist, mnist_dir, tmp_path, no_network):
    copy_all(mnist_dir, tmp_path, gz=True, sub="MNIST/raw")
    loaded = load_mnist(root=tmp_path, download=False)
    for a, b in zip(loaded, mnist):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- corrupt files


def small_pair(tmp_path, n_images=3, n_labels=3):
    images = np.arange(n_images * 28 * 28, dtype=np.uint8).reshape(n_images, 28, 28)
    labels = np.arange(n_labels, dtype=np.uint8) % 10
    img, lab = tmp_path / "img-idx3-ubyte", tmp_path / "lab-idx1-ubyte"
    img.write_bytes(idx_bytes(images))
    lab.write_bytes(idx_bytes(labels))
    return img, lab, images, labels


def test_parse_small_hand_made_files(tmp_path):
    img, lab, images, labels = small_pair(tmp_path)
    got_images, got_labels = data._read_pair(img, lab)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert int.from_bytes(img.read_bytes()[:4], "big") == 2051
    assert int.from_bytes(lab.read_bytes()[:4], "big") == 2049


def test_parse_idx_big_endian_wider_types():
    values = np.array([[1, -2, 300]], dtype=">i4")
    raw = bytes([0, 0, 0x0C, 2]) + struct.pack(">II", 1, 3) + values.tobytes()
    np.testing.assert_array_equal(data.parse_idx(raw), [[1, -2, 300]])


@pytest.mark.parametrize("cut", [1, 100, 2000])
def test_truncated_file_names_the_file(tmp_path, cut):
    img, lab, *_ = small_pair(tmp_path)
    img.write_bytes(img.read_bytes()[:-cut])
    with pytest.raises(ValueError, match="truncated") as info:
        data._read_pair(img, lab)
    assert str(img) in str(info.value)


def test_truncated_gzip_names_the_file(mnist_dir, tmp_path):
    copy_all(mnist_dir, tmp_path, gz=True)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(ValueError) as info:
        load_mnist(root=tmp_path, download=False)
    assert str(path) in str(info.value)


def test_truncated_real_file_inside_valid_gzip(mnist_dir, tmp_path):
    """A well-formed .gz whose content is short: the IDX length check catches it."""
    copy_all(mnist_dir, tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    content = gunzip_bytes(path)
    path.write_bytes(gzip.compress(content[: len(content) // 2], 1, mtime=0))
    with pytest.raises(ValueError, match="truncated") as info:
        load_mnist(root=tmp_path, download=False)
    assert str(path) in str(info.value)


def test_trailing_bytes_rejected(tmp_path):
    img, lab, *_ = small_pair(tmp_path)
    lab.write_bytes(lab.read_bytes() + b"\x00")
    with pytest.raises(ValueError, match="trailing") as info:
        data._read_pair(img, lab)
    assert str(lab) in str(info.value)


def test_bad_magic(tmp_path):
    img, lab, *_ = small_pair(tmp_path)
    # a labels file where an images file belongs
    with pytest.raises(ValueError, match="bad magic number 2049, need 2051") as info:
        data._read_pair(lab, lab)
    assert str(lab) in str(info.value)
    img.write_bytes(b"\x1f\x8b" + img.read_bytes()[2:])
    with pytest.raises(ValueError, match="magic"):
        data._read_pair(img, lab)


def test_count_mismatch_between_images_and_labels(tmp_path):
    img, lab, *_ = small_pair(tmp_path, n_images=3, n_labels=4)
    with pytest.raises(ValueError, match="3 images .* 4 labels"):
        data._read_pair(img, lab)


def test_wrong_image_size_and_label_range(tmp_path):
    img = tmp_path / "img"
    img.write_bytes(idx_bytes(np.zeros((2, 5, 5), np.uint8)))
    lab = tmp_path / "lab"
    lab.write_bytes(idx_bytes(np.array([0, 1], np.uint8)))
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        data._read_pair(img, lab)
    img.write_bytes(idx_bytes(np.zeros((2, 28, 28), np.uint8)))
    lab.write_bytes(idx_bytes(np.array([0, 10], np.uint8)))
    with pytest.raises(ValueError, match="0..9"):
        data._read_pair(img, lab)


# ------------------------------------------------------------------ search order


@pytest.fixture
def three_places(mnist_dir, tmp_path, monkeypatch):
    """Complete copies in root, env and cache, each told apart by its first label."""
    places = {}
    for i, where in enumerate(["root", "env", "cache"]):
        folder = tmp_path / where / ("cnnlab/mnist" if where == "cache" else "")
        copy_all(mnist_dir, folder, gz=False)
        labels = folder / "train-labels-idx1-ubyte"
        content = bytearray(labels.read_bytes())
        content[8] = i  # first label: 0 root, 1 env, 2 cache
        labels.write_bytes(bytes(content))
        places[where] = folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNLAB_DATA", str(places["env"]))
    return places


def first_label(**kwargs):
    return int(load_mnist(download=False, **kwargs)[1][0])


def test_search_order_root_then_env_then_cache(three_places, monkeypatch, no_network):
    assert first_label(root=three_places["root"]) == 0
    assert first_label() == 1
    monkeypatch.delenv("CNNLAB_DATA")
    assert first_label() == 2


def test_cache_dir_uses_home_without_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.default_cache_dir() == tmp_path / ".cache" / "cnnlab" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.default_cache_dir() == tmp_path / "xdg" / "cnnlab" / "mnist"


def test_missing_without_download_says_where_and_what_to_do(tmp_path, monkeypatch, no_network):
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(MNISTNotFoundError) as info:
        load_mnist(download=False)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "cache" / "cnnlab" / "mnist") in message
    assert "CNNLAB_DATA" in message and "root=" in message and "download=True" in message
    assert not (tmp_path / "cache").exists()  # looking does not create folders


# -------------------------------------------------------------------- download


@pytest.fixture
def mirror(mnist_dir, tmp_path, monkeypatch):
    """A file:// mirror serving gzipped copies of the real files."""
    folder = copy_all(mnist_dir, tmp_path / "mirror", gz=True)
    monkeypatch.setattr(data, "MIRRORS", (folder.as_uri() + "/",))
    return folder


def test_download_from_mirror(mnist, mirror, tmp_path):
    dest = tmp_path / "dest"
    loaded = load_mnist(root=dest, download=True)
    for a, b in zip(loaded, mnist):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in dest.iterdir()) == sorted(n + ".gz" for n in NAMES)


def test_download_only_missing_files(mnist_dir, mirror, tmp_path, monkeypatch):
    dest = copy_all(mnist_dir, tmp_path / "dest", gz=False)
    (dest / "t10k-labels-idx1-ubyte").unlink()
    fetched = []
    real_fetch = data._fetch
    monkeypatch.setattr(data, "_fetch", lambda url, f, desc=None: (fetched.append(url), real_fetch(url, f, desc)))
    load_mnist(root=dest)
    assert [u.rsplit("/", 1)[-1] for u in fetched] == ["t10k-labels-idx1-ubyte.gz"]
    assert (dest / "t10k-labels-idx1-ubyte.gz").is_file()


def test_download_falls_back_to_second_mirror(mnist, mirror, tmp_path, monkeypatch):
    dead = (tmp_path / "nowhere").as_uri() + "/"
    monkeypatch.setattr(data, "MIRRORS", (dead, mirror.as_uri() + "/"))
    loaded = load_mnist(root=tmp_path / "dest")
    np.testing.assert_array_equal(loaded[3], mnist[3])


def test_wrong_checksum_raises_and_leaves_nothing(mirror, tmp_path):
    # the mirror serves a valid gzip whose content differs by one byte
    path = mirror / "train-labels-idx1-ubyte.gz"
    content = bytearray(gunzip_bytes(path))
    content[-1] = (content[-1] + 1) % 10
    path.write_bytes(gzip.compress(bytes(content), 1))
    dest = tmp_path / "dest"
    with pytest.raises(MNISTChecksumError, match="a25bea736e30d166cdddb491f175f624"):
        load_mnist(root=dest)
    assert not (dest / "train-labels-idx1-ubyte.gz").exists()
    assert not [p for p in dest.iterdir() if p.name.endswith(".part")]


class ExplodingResponse(io.BytesIO):
    """Serves the first bytes of a real file, then fails like a dropped connection."""

    def __init__(self, content, error):
        super().__init__(content)
        self.error = error
        self.headers = {"Content-Length": str(len(content))}
        self.served = 0

    def read(self, size=-1):
        if self.served > len(self.getvalue()) // 3:
            raise self.error
        chunk = super().read(min(size, 4096))
        self.served += len(chunk)
        return chunk


@pytest.mark.parametrize("error", [ConnectionResetError("connection reset by peer"), KeyboardInterrupt()])
def test_interrupted_download_leaves_no_partial_file(mirror, tmp_path, monkeypatch, error):
    def fake_urlopen(url, timeout=None):
        name = url.rsplit("/", 1)[-1]
        return ExplodingResponse((mirror / name).read_bytes(), error)

    monkeypatch.setattr(data, "urlopen", fake_urlopen)
    dest = tmp_path / "dest"
    expected = MNISTNotFoundError if isinstance(error, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        load_mnist(root=dest)
    assert list(dest.iterdir()) == []  # neither a final nor a temporary file


def test_offline_download_is_a_not_found_error(tmp_path, monkeypatch):
    from urllib.error import URLError

    def offline(url, timeout=None):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data, "urlopen", offline)
    with pytest.raises(MNISTNotFoundError, match="offline") as info:
        load_mnist(root=tmp_path / "dest")
    assert "CNNLAB_DATA" in str(info.value) and "root=" in str(info.value)


def test_real_urls_point_at_the_public_mirrors(monkeypatch, tmp_path):
    urls = []

    def record(url, timeout=None):
        urls.append(url)
        raise OSError("no network in tests")

    monkeypatch.setattr(data, "urlopen", record)
    with pytest.raises(MNISTNotFoundError):
        data.download_file("t10k-labels-idx1-ubyte", FILES["test_labels"][1], tmp_path)
    assert urls == [
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        "https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz",
    ]


# --------------------------------------------------------------------- helpers


def test_mnist_arrays_normalized(mnist):
    x, y = data.mnist_arrays("test", limit=100, download=False)
    assert x.shape == (100, 1, 28, 28) and x.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, mnist[3][:100])
    expected = (mnist[2][:100] / 255.0 - 0.1307) / 0.3081
    np.testing.assert_allclose(x[:, 0], expected, atol=1e-5)
    x01, _ = data.mnist_arrays("test", normalize=False, dtype=np.float64, limit=3, download=False)
    assert x01.dtype == np.float64 and x01.min() == 0.0 and x01.max() == 1.0


def test_mnist_arrays_rejects_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        data.mnist_arrays("validation")
    with pytest.raises(ValueError, match="limit"):
        data.mnist_arrays("train", limit=0)


def test_batches_cover_everything_once_and_are_seeded():
    x = np.arange(10)[:, None] * np.ones((1, 3))
    y = np.arange(10)
    got = list(data.batches(x, y, batch_size=4, shuffle=True, seed=1))
    assert [len(b[1]) for b in got] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in got])
    assert sorted(seen) == list(range(10)) and list(seen) != list(range(10))
    for xb, yb in got:
        np.testing.assert_array_equal(xb[:, 0], yb)  # rows stay with their labels
    again = np.concatenate([b[1] for b in data.batches(x, y, 4, shuffle=True, seed=1)])
    np.testing.assert_array_equal(seen, again)
    plain = np.concatenate([b[1] for b in data.batches(x, y, 3, shuffle=False)])
    np.testing.assert_array_equal(plain, y)
    with pytest.raises(ValueError, match="batch_size"):
        next(data.batches(x, y, 0))
    with pytest.raises(ValueError, match="must match"):
        next(data.batches(x, y[:5], 2))
