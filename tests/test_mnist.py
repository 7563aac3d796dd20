"""IDX reading, every bad-file case, and where the data is looked for (real files only)."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from drawdigit.mnist import (
    ENV_MNIST_DIR,
    MNIST_FILES,
    TEST_IMAGES,
    TEST_LABELS,
    MnistError,
    find_data_dir,
    find_file,
    load_mnist,
    mnist_cache_dir,
    read_idx,
    verify_file,
)


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array the way the MNIST files are laid out."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.tobytes()


@pytest.fixture(scope="module")
def test_labels_raw(mnist_dir: Path) -> bytes:
    return gzip.decompress((mnist_dir / f"{TEST_LABELS}.gz").read_bytes())


@pytest.fixture(scope="module")
def test_images_raw(mnist_dir: Path) -> bytes:
    return gzip.decompress((mnist_dir / f"{TEST_IMAGES}.gz").read_bytes())


def fake_mnist_dir(folder: Path, mnist_dir: Path) -> Path:
    """A folder that holds all four files by name (symlinks to the real ones where possible)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        link_or_copy(mnist_dir / f"{name}.gz", folder / f"{name}.gz")
    return folder


def link_or_copy(source: Path, target: Path) -> None:
    try:
        target.symlink_to(source)
    except OSError:  # e.g. Windows without the symlink privilege
        shutil.copyfile(source, target)


# --------------------------------------------------------------------------- the real data


def test_load_real_mnist(mnist_dir: Path) -> None:
    data = load_mnist(mnist_dir)
    assert data.train_images.shape == (60000, 28, 28)
    assert data.train_labels.shape == (60000,)
    assert data.test_images.shape == (10000, 28, 28)
    assert data.test_labels.shape == (10000,)
    for array in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        assert array.dtype == np.uint8
        assert array.flags.writeable and array.flags.c_contiguous
    # Every digit occurs, in the proportions MNIST is known for (test set: 980 zeros...).
    assert np.bincount(data.test_labels, minlength=10).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009
    ]  # fmt: skip
    assert set(np.unique(data.train_labels).tolist()) == set(range(10))
    assert data.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    # Ink is bright on a dark background: corners empty, the centre inked, full range used.
    assert data.train_images[:, 0, 0].max() == 0
    assert data.train_images[:, 10:18, 10:18].mean() > 3 * data.train_images.mean()
    assert data.train_images.max() == 255
    assert 30 < data.train_images.mean() < 36


def test_raw_and_gzip_give_the_same_array(
    mnist_dir: Path, tmp_path: Path, test_images_raw: bytes
) -> None:
    raw = tmp_path / TEST_IMAGES
    raw.write_bytes(test_images_raw)
    from_gz = read_idx(mnist_dir / f"{TEST_IMAGES}.gz", MNIST_FILES[TEST_IMAGES].md5)
    from_raw = read_idx(raw, MNIST_FILES[TEST_IMAGES].md5)
    assert from_raw.shape == (10000, 28, 28)
    np.testing.assert_array_equal(from_gz, from_raw)
    verify_file(raw)


def test_folder_of_raw_files_loads(mnist_dir: Path, tmp_path: Path) -> None:
    """A folder of decompressed files (as torchvision leaves in MNIST/raw) loads too."""
    raw_dir = tmp_path / "MNIST" / "raw"
    raw_dir.mkdir(parents=True)
    for name in (TEST_IMAGES, TEST_LABELS):
        (raw_dir / name).write_bytes(gzip.decompress((mnist_dir / f"{name}.gz").read_bytes()))
    for name in MNIST_FILES:
        if name not in (TEST_IMAGES, TEST_LABELS):
            link_or_copy(mnist_dir / f"{name}.gz", tmp_path / f"{name}.gz")
    assert find_file(tmp_path, TEST_LABELS) == raw_dir / TEST_LABELS
    data = load_mnist(tmp_path)
    assert data.test_labels[:3].tolist() == [7, 2, 1]


# --------------------------------------------------------------------------- bad files


def test_wrong_magic(tmp_path: Path, test_labels_raw: bytes) -> None:
    path = tmp_path / TEST_LABELS
    path.write_bytes(b"\x12\x34\x56\x78" + test_labels_raw[4:])
    with pytest.raises(MnistError, match=rf"{TEST_LABELS}: not an IDX file \(bad magic 0x12345678"):
        read_idx(path)


def test_unsupported_data_type(tmp_path: Path, test_labels_raw: bytes) -> None:
    path = tmp_path / TEST_LABELS
    path.write_bytes(b"\x00\x00\x0d\x01" + test_labels_raw[4:])  # 0x0d = float32
    with pytest.raises(MnistError, match=r"unsupported IDX data type 0x0d"):
        read_idx(path)


def test_truncated_gz(tmp_path: Path, test_labels_raw: bytes) -> None:
    """A well-formed gzip whose content stops early: the header decides, not the gzip."""
    path = tmp_path / f"{TEST_LABELS}.gz"
    path.write_bytes(gzip.compress(test_labels_raw[: 8 + 9000]))
    with pytest.raises(MnistError) as info:
        read_idx(path)
    assert str(info.value).startswith(
        f"{TEST_LABELS}.gz: truncated: header says 10000 items, file has 9000"
    )


def test_truncated_images_and_header(tmp_path: Path, test_images_raw: bytes) -> None:
    path = tmp_path / TEST_IMAGES
    path.write_bytes(test_images_raw[: 16 + 784 * 1234 + 100])
    with pytest.raises(MnistError, match=r"truncated: header says 10000 items, file has 1234"):
        read_idx(path)
    path.write_bytes(test_images_raw[:10])
    with pytest.raises(MnistError, match=r"truncated: the header needs 16 bytes"):
        read_idx(path)
    path.write_bytes(b"")
    with pytest.raises(MnistError, match=r"not an IDX file \(only 0 bytes\)"):
        read_idx(path)


def test_trailing_garbage(tmp_path: Path, test_labels_raw: bytes) -> None:
    path = tmp_path / f"{TEST_LABELS}.gz"
    path.write_bytes(gzip.compress(test_labels_raw + b"garbage"))
    with pytest.raises(MnistError, match=rf"{TEST_LABELS}.gz: 7 bytes of trailing data"):
        read_idx(path)


def test_wrong_count_for_a_known_file(tmp_path: Path, test_labels_raw: bytes) -> None:
    """Internally consistent, but not the 10,000 labels this file name promises."""
    labels = np.frombuffer(test_labels_raw, np.uint8, offset=8)[:9000]
    path = tmp_path / TEST_LABELS
    path.write_bytes(idx_bytes(labels))
    with pytest.raises(MnistError, match=r"wrong count: 9000 items, expected 10000"):
        read_idx(path)
    # The same content under a name that promises nothing reads fine.
    other = tmp_path / "my-labels-idx1-ubyte"
    other.write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(read_idx(other), labels)


def test_wrong_item_shape(tmp_path: Path) -> None:
    path = tmp_path / TEST_IMAGES
    path.write_bytes(idx_bytes(np.zeros((10000, 32, 32), np.uint8)))
    with pytest.raises(MnistError, match=r"items of shape \(32, 32\), expected \(28, 28\)"):
        read_idx(path)
    path.write_bytes(idx_bytes(np.zeros((10000,), np.uint8)))
    with pytest.raises(MnistError, match=r"1-dimensional array, expected 3"):
        read_idx(path)


def test_labels_above_nine(tmp_path: Path, test_labels_raw: bytes) -> None:
    labels = np.frombuffer(test_labels_raw, np.uint8, offset=8).copy()
    labels[1234] = 12
    path = tmp_path / f"{TEST_LABELS}.gz"
    path.write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(MnistError, match=r"label 12 is out of range .* index 1234: 12"):
        read_idx(path)


def test_checksum_mismatch(tmp_path: Path, test_images_raw: bytes) -> None:
    """One pixel changed: structurally perfect, so only the MD5 can tell."""
    data = bytearray(test_images_raw)
    data[16 + 784 * 5000 + 400] ^= 0xFF
    path = tmp_path / f"{TEST_IMAGES}.gz"
    path.write_bytes(gzip.compress(bytes(data), compresslevel=1))
    read_idx(path)  # no digest asked for: reads
    with pytest.raises(MnistError, match=rf"{TEST_IMAGES}.gz: checksum mismatch"):
        read_idx(path, MNIST_FILES[TEST_IMAGES].md5)
    with pytest.raises(MnistError, match=r"checksum mismatch"):
        verify_file(path)
    # The digest is of the decompressed bytes, whatever the gzip wrapper.
    assert hashlib.md5(bytes(data)).hexdigest() != MNIST_FILES[TEST_IMAGES].md5


def test_not_gzip(tmp_path: Path, test_labels_raw: bytes) -> None:
    path = tmp_path / f"{TEST_LABELS}.gz"
    path.write_bytes(test_labels_raw)  # raw bytes under a .gz name
    with pytest.raises(MnistError, match=rf"{TEST_LABELS}.gz: not valid gzip"):
        read_idx(path)
    path.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(MnistError, match=r"not valid gzip"):
        read_idx(path)


def test_corrupt_gzip(tmp_path: Path, mnist_dir: Path) -> None:
    good = (mnist_dir / f"{TEST_LABELS}.gz").read_bytes()
    path = tmp_path / f"{TEST_LABELS}.gz"
    path.write_bytes(good[: len(good) // 2])  # cut off: no end-of-stream marker
    with pytest.raises(MnistError, match=rf"{TEST_LABELS}.gz: not valid gzip"):
        read_idx(path)
    damaged = bytearray(good)
    damaged[len(good) // 2 : len(good) // 2 + 64] = bytes(64)  # deflate data overwritten
    path.write_bytes(bytes(damaged))
    with pytest.raises(MnistError, match=r"not valid gzip"):
        read_idx(path)


def test_missing_file_and_folder(tmp_path: Path, mnist_dir: Path) -> None:
    with pytest.raises(MnistError, match=r"no such file"):
        read_idx(tmp_path / f"{TEST_LABELS}.gz")
    with pytest.raises(MnistError, match=r"no such folder"):
        load_mnist(tmp_path / "nowhere")
    folder = fake_mnist_dir(tmp_path / "partial", mnist_dir)
    (folder / f"{TEST_IMAGES}.gz").unlink()
    (folder / f"{TEST_LABELS}.gz").unlink()
    with pytest.raises(MnistError) as info:
        load_mnist(folder)
    message = str(info.value)
    assert str(folder) in message
    assert TEST_IMAGES in message and TEST_LABELS in message
    assert "train-images" not in message


def test_load_mnist_names_the_bad_file(tmp_path: Path, mnist_dir: Path) -> None:
    folder = fake_mnist_dir(tmp_path / "data", mnist_dir)
    (folder / f"{TEST_LABELS}.gz").unlink()
    shutil.copyfile(mnist_dir / f"{TEST_IMAGES}.gz", folder / f"{TEST_LABELS}.gz")
    with pytest.raises(MnistError, match=rf"{TEST_LABELS}.gz: holds a 3-dimensional array"):
        load_mnist(folder)


# --------------------------------------------------------------------------- finding data


def test_find_data_dir_order(
    tmp_path: Path, mnist_dir: Path, user_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert mnist_cache_dir() == user_data / "mnist"
    assert find_data_dir() is None  # nothing anywhere

    cache = fake_mnist_dir(mnist_cache_dir(), mnist_dir)
    assert find_data_dir() == cache

    env_dir = fake_mnist_dir(tmp_path / "env", mnist_dir)
    monkeypatch.setenv(ENV_MNIST_DIR, str(env_dir))
    assert find_data_dir() == env_dir  # env beats the cache

    explicit = fake_mnist_dir(tmp_path / "explicit", mnist_dir)
    assert find_data_dir(explicit) == explicit  # explicit beats both

    # An incomplete env folder is skipped; an incomplete explicit folder is an error.
    (env_dir / f"{TEST_LABELS}.gz").unlink()
    assert find_data_dir() == cache
    (explicit / f"{TEST_LABELS}.gz").unlink()
    with pytest.raises(MnistError, match=rf"missing MNIST file\(s\): {TEST_LABELS}"):
        find_data_dir(explicit)
    with pytest.raises(MnistError, match=r"no such folder"):
        find_data_dir(tmp_path / "nowhere")

    monkeypatch.setenv(ENV_MNIST_DIR, str(mnist_dir))
    assert find_data_dir() == mnist_dir


# --------------------------------------------------------------------------- hostile headers


def idx_header(*dims: int) -> bytes:
    return bytes([0, 0, 0x08, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


def test_dimensions_whose_product_overflows_int64_are_refused(tmp_path: Path) -> None:
    # 65536 * 2**24 * 2**24 = 2**64: wraps to 0 in int64, which matched the empty body.
    path = tmp_path / "overflow-idx4-ubyte"
    path.write_bytes(idx_header(1, 65536, 2**24, 2**24))
    with pytest.raises(MnistError, match="header declares"):
        read_idx(path)
    gz = tmp_path / "overflow-idx4-ubyte.gz"
    gz.write_bytes(gzip.compress(idx_header(1, 65536, 2**24, 2**24)))
    with pytest.raises(MnistError, match="header declares"):
        read_idx(gz)


@pytest.mark.parametrize("compress", [False, True])
def test_a_header_of_255_dimensions_gets_a_short_error(tmp_path: Path, compress: bool) -> None:
    """It got 5 kB of error, a 300-digit byte count and 255 dimensions listed."""
    header = idx_header(*[4_000_000_000] * 255)
    path = tmp_path / ("many-idx-ubyte.gz" if compress else "many-idx-ubyte")
    path.write_bytes(gzip.compress(header + bytes(100)) if compress else header + bytes(100))
    with pytest.raises(MnistError) as refused:
        read_idx(path)
    assert str(refused.value) == (
        f"{path.name}: the header declares more bytes of data (255 dimensions) than an IDX "
        "file drawdigit reads (100,000,000)"
    )


def _gzip_bomb(path: Path, header: bytes, zeros: int) -> None:
    """``header`` then ``zeros`` zero bytes, gzip-compressed a megabyte at a time (the
    test never holds the inflated content)."""
    chunk = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        for _ in range(zeros // len(chunk)):
            f.write(chunk)


def _peak_bytes_of_refusal(path: Path) -> tuple[int, str]:
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(MnistError) as caught:
            read_idx(path)
        return tracemalloc.get_traced_memory()[1], str(caught.value)
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_is_refused_after_the_declared_size(tmp_path: Path) -> None:
    # A labels file that declares its 10,000 labels, then inflates by 300 MB more.
    path = tmp_path / f"{TEST_LABELS}.gz"
    _gzip_bomb(path, idx_header(10000), 300 << 20)
    peak, message = _peak_bytes_of_refusal(path)
    assert "trailing data" in message
    assert peak < 20_000_000  # the header's 10 kB and 1 MB to count the trailing bytes


def test_a_header_declaring_too_much_is_refused_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "huge-idx3-ubyte.gz"
    _gzip_bomb(path, idx_header(100_000, 100, 100), 300 << 20)  # declares 1 GB
    peak, message = _peak_bytes_of_refusal(path)
    assert "header declares" in message
    assert peak < 20_000_000


def test_a_raw_file_larger_than_any_idx_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge-idx1-ubyte"
    with path.open("wb") as f:
        f.write(idx_header(10))
        f.truncate(200_000_000)  # sparse: costs no disk
    peak, message = _peak_bytes_of_refusal(path)
    assert "more than an IDX file drawdigit reads" in message
    assert peak < 1_000_000
