"""common/data/sources.py: folder decoding of each supported kind, bad files, shards, TFDS, bundled photos."""

from __future__ import annotations

import io
import logging
import os
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from common.data import decode, photos, sources

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (6, 8, 3)).astype(np.uint8)


def _png16_rgb(arr: np.ndarray) -> bytes:
    """A 16-bit RGB PNG written by hand (Pillow cannot write one)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# What each good file must decode to (exact arrays, or a checker for lossy formats).
PALETTE = np.array([[255, 0, 0], [0, 0, 255], [10, 200, 30]], np.uint8)
PALETTE_IDX = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
RGBA = np.array([[[200, 100, 50, 255], [200, 100, 50, 0], [0, 0, 0, 128]]], np.uint8)
RGBA_EXPECTED = np.array([[[200, 100, 50], [255, 255, 255], [127, 127, 127]]], np.uint8)
GRAY16 = np.array([[0, 257, 65535], [32896, 1000, 65000]], np.uint16)
GRAY16_EXPECTED = np.repeat(np.round(GRAY16 / 257.0).astype(np.uint8)[..., None], 3, axis=-1)
RGB16 = np.array([[[0, 257 * 100, 65535], [257 * 7, 257 * 255, 257 * 128]]], np.uint16)
GRAY8 = np.array([[0, 50, 255], [7, 128, 200]], np.uint8)
GOOD = [
    "a.png",
    "b.BMP",
    "c.webp",
    "cmyk.tiff",
    "gray.png",
    "gray16.png",
    "palette.png",
    "rgb16.png",
    "rgba.png",
    "rotated.jpg",
    "sub/deeper/d.TIF",
    "sub/e.jpeg",
]
BAD = ["corrupt.png", "empty.jpg", "sub/text.jpg", "truncated.jpg"]


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("images")
    os.makedirs(root / "sub" / "deeper")
    Image.fromarray(RGB).save(root / "a.png")
    Image.fromarray(RGB).save(root / "b.BMP", format="BMP")
    Image.fromarray(RGB).save(root / "c.webp", lossless=True)
    Image.new("CMYK", (3, 2), (0, 255, 255, 0)).save(root / "cmyk.tiff")  # red in CMYK
    Image.fromarray(GRAY8).save(root / "gray.png")
    Image.fromarray(GRAY16).save(root / "gray16.png")  # mode I;16
    pal = Image.fromarray(PALETTE_IDX, mode="P")
    pal.putpalette(PALETTE.reshape(-1).tolist())
    pal.save(root / "palette.png")
    (root / "rgb16.png").write_bytes(_png16_rgb(RGB16))
    Image.fromarray(RGBA, mode="RGBA").save(root / "rgba.png")
    # Stored 16 high x 32 wide, left half red, right half blue; EXIF orientation 6 = rotate 90 deg
    # clockwise to display, so the decoded image is 32 high x 16 wide, red on top, blue at the bottom.
    stored = np.zeros((16, 32, 3), np.uint8)
    stored[:, :16, 0] = 255
    stored[:, 16:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(root / "rotated.jpg", quality=95, exif=exif.tobytes())
    Image.fromarray(RGB).save(root / "sub" / "deeper" / "d.TIF", format="TIFF")
    Image.fromarray(RGB).save(root / "sub" / "e.jpeg", quality=95)
    # Bad files: random bytes after a PNG signature, 0 bytes, text, and half a JPEG.
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + RNG.bytes(64))
    (root / "empty.jpg").write_bytes(b"")
    (root / "sub" / "text.jpg").write_text("this is not an image\n")
    buf = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3)).astype(np.uint8)).save(buf, format="JPEG")
    (root / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (root / "notes.txt").write_text("not listed")  # not an image extension: never listed
    return str(root)


def test_list_image_files_recursive_sorted_case_insensitive(image_dir):
    assert sources.list_image_files(image_dir) == sorted(GOOD + BAD)


def _decode(image_dir: str, rel: str) -> np.ndarray:
    out = sources.decode_image_file(os.path.join(image_dir, rel))
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    return out


def test_decode_lossless_kinds_exactly(image_dir):
    for rel in ("a.png", "b.BMP", "c.webp", "sub/deeper/d.TIF"):
        np.testing.assert_array_equal(_decode(image_dir, rel), RGB, err_msg=rel)
    np.testing.assert_array_equal(_decode(image_dir, "cmyk.tiff"), np.tile([255, 0, 0], (2, 3, 1)))
    np.testing.assert_array_equal(_decode(image_dir, "gray.png"), np.repeat(GRAY8[..., None], 3, axis=-1))
    np.testing.assert_array_equal(_decode(image_dir, "palette.png"), PALETTE[PALETTE_IDX])
    # 16-bit gray: scaled by 255/65535 and rounded (65535 -> 255, 32896 -> 128), not clipped.
    np.testing.assert_array_equal(_decode(image_dir, "gray16.png"), GRAY16_EXPECTED)
    np.testing.assert_array_equal(_decode(image_dir, "rgb16.png"), (RGB16 // 257).astype(np.uint8))
    # Transparent pixels composited on white: opaque kept, clear -> white, half-black -> mid gray.
    np.testing.assert_array_equal(_decode(image_dir, "rgba.png"), RGBA_EXPECTED)


def test_decode_jpeg_applies_exif_orientation(image_dir):
    out = _decode(image_dir, "rotated.jpg").astype(int)
    assert out.shape == (32, 16, 3)
    top, bottom = out[2:14].mean(axis=(0, 1)), out[18:30].mean(axis=(0, 1))
    assert top[0] > 240 and top[2] < 15  # red
    assert bottom[2] > 240 and bottom[0] < 15  # blue
    # A JPEG without EXIF decodes exactly as Pillow decodes it.
    with Image.open(os.path.join(image_dir, "sub/e.jpeg")) as plain:
        np.testing.assert_array_equal(_decode(image_dir, "sub/e.jpeg"), np.asarray(plain.convert("RGB")))


@pytest.mark.parametrize("rel, why", [("empty.jpg", "empty"), ("sub/text.jpg", "not a recognised")])
def test_decode_bad_files_raise_one_line_naming_the_file(image_dir, rel, why):
    with pytest.raises(sources.ImageDecodeError) as err:
        sources.decode_image_file(os.path.join(image_dir, rel))
    assert rel in str(err.value) and why in str(err.value) and "\n" not in str(err.value)


def _run(ds: tf.data.Dataset) -> list[dict]:
    return list(ds.as_numpy_iterator())


def test_folder_source_yields_every_good_file_and_logs_each_bad_one(image_dir, caplog):
    decode._reported.clear()
    with caplog.at_level(logging.WARNING):
        examples = _run(sources.folder_source(image_dir))
    names = [ex["name"].decode() for ex in examples]
    assert names == GOOD  # sorted file order, bad ones dropped
    for ex in examples:
        assert ex["image"].dtype == np.uint8 and ex["image"].shape[2] == 3
    by_name = dict(zip(names, examples, strict=True))
    np.testing.assert_array_equal(by_name["gray16.png"]["image"], GRAY16_EXPECTED)
    assert by_name["rotated.jpg"]["image"].shape == (32, 16, 3)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for rel in BAD:
        hits = [m for m in warnings if os.path.join(image_dir, rel) in m]
        assert len(hits) == 1, (rel, warnings)
        assert "\n" not in hits[0]
    # A second pass (the next epoch) does not repeat the warnings.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert len(_run(sources.folder_source(image_dir))) == len(GOOD)
    assert not [r for r in caplog.records if "Skipping" in r.getMessage()]


@pytest.mark.parametrize("num_shards", [2, 3])
def test_folder_shards_are_disjoint_and_cover(image_dir, num_shards):
    shards = [
        [
            ex["name"].decode()
            for ex in _run(sources.folder_source(image_dir, num_shards=num_shards, shard_index=i))
        ]
        for i in range(num_shards)
    ]
    flat = [n for s in shards for n in s]
    assert sorted(flat) == GOOD and len(set(flat)) == len(flat)
    all_files = sources.list_image_files(image_dir)  # sharded by file index, before decoding
    for i, shard in enumerate(shards):
        assert shard == [f for f in all_files[i::num_shards] if f in GOOD]


def test_folder_shuffle_is_seeded_and_reshuffles_each_epoch(image_dir):
    def order(seed: int, epochs: int = 1) -> list[str]:
        ds = sources.folder_source(image_dir, shuffle_files=True, seed=seed).repeat(epochs)
        return [ex["name"].decode() for ex in _run(ds)]

    first = order(3, epochs=2)
    assert first == order(3, epochs=2)
    epoch1, epoch2 = first[: len(GOOD)], first[len(GOOD) :]
    assert sorted(epoch1) == GOOD and sorted(epoch2) == GOOD
    assert epoch1 != epoch2 and epoch1 != GOOD
    assert order(4) != epoch1


def test_folder_split_slices(image_dir):
    files = sources.list_image_files(image_dir)
    names = [ex["name"].decode() for ex in _run(sources.folder_source(image_dir, "train[-5:]"))]
    assert names == [f for f in files[-5:] if f in GOOD]
    half = [ex["name"].decode() for ex in _run(sources.folder_source(image_dir, "train[:50%]"))]
    assert half == [f for f in files[:8] if f in GOOD]


def test_slice_split():
    assert sources.slice_split("train", 10) == slice(None, None)
    assert sources.slice_split("train[:-3]", 10) == slice(None, -3)
    assert sources.slice_split("test[10%:90%]", 50) == slice(5, 45)
    with pytest.raises(ValueError, match="train\\[1:2"):
        sources.slice_split("train[1:2", 10)


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        sources.folder_source(str(tmp_path / "missing"))
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="holds no"):
        sources.folder_source(str(tmp_path))
    Image.fromarray(RGB).save(tmp_path / "one.png")
    with pytest.raises(ValueError, match=r"split 'train\[:-10000\]' selects none of the 1 images"):
        sources.folder_source(str(tmp_path), "train[:-10000]")
    with pytest.raises(ValueError, match="shard 1 of 2 is empty"):
        sources.folder_source(str(tmp_path), num_shards=2, shard_index=1)


# ------------------------------------------------------------------------------------------------- TFDS
def test_tfds_source_cifar10_mocked(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        examples = _run(sources.tfds_source("cifar10", "train", data_dir=str(tmp_path)))
    assert len(examples) == 6
    for ex in examples:
        assert ex["image"].shape == (32, 32, 3) and ex["image"].dtype == np.uint8
        assert ex["name"] == b"cifar10/train/0"


def test_tfds_source_grayscale_tiled_and_imagenet_names(tmp_path):
    with tfds.testing.mock_data(num_examples=3):
        mnist = _run(sources.tfds_source("mnist", "test", data_dir=str(tmp_path)))
        imagenet = _run(
            sources.tfds_source(
                "imagenet2012", "train[:-10000]", data_dir=str(tmp_path), num_shards=2, shard_index=1
            )
        )
    assert len(mnist) == 3
    for ex in mnist:
        assert ex["image"].shape == (28, 28, 3)
        np.testing.assert_array_equal(ex["image"][..., 0], ex["image"][..., 2])
    assert len(imagenet) == 3
    for ex in imagenet:  # "name" is imagenet2012's own file_name feature
        assert ex["image"].ndim == 3 and ex["image"].shape[2] == 3 and isinstance(ex["name"], bytes)


def test_tfds_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'cifar10' is not prepared in .*tfds build cifar10"):
        sources.tfds_source("cifar10", "train", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="not a TFDS dataset name"):
        sources.tfds_source("no_such_dataset_xyz", "train", data_dir=str(tmp_path))


# ---------------------------------------------------------------------------------------------- bundled
def test_bundled_photos_are_the_packages_four_colour_photos():
    found = photos.bundled_photos()
    assert [n for n, _ in found] == ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"]
    for name, image in found:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, name
        # Colour: the channels really differ, and there are many distinct values (a photo, not a chart).
        assert np.abs(image[..., 0].astype(int) - image[..., 2]).mean() > 5, name
        assert len(np.unique(image[..., 1])) > 100, name
    shapes = {n: im.shape for n, im in found}
    assert shapes == {
        "astronaut.jpg": (512, 512, 3),
        "chelsea.jpg": (300, 451, 3),
        "coffee.jpg": (400, 600, 3),
        "rocket.jpg": (427, 640, 3),
    }
    # The committed files, whatever the machine has installed: mean R, G, B of each (a JPEG decoder may
    # round a few pixels differently, hence the tolerance).
    means = np.array([im.reshape(-1, 3).mean(0) for _, im in found])
    want = [[141.56, 105.79, 96.48], [147.71, 111.43, 86.81], [158.51, 85.81, 51.55], [52.26, 61.28, 82.31]]
    np.testing.assert_allclose(means, want, atol=0.05)


def test_bundled_photos_do_not_depend_on_system_photos(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("bundled photos must not read scikit-image or wallpapers")

    monkeypatch.setattr(photos, "_skimage_photos", fail)
    monkeypatch.setattr(photos, "_wallpapers", fail)
    assert len(photos.bundled_photos()) == 4
    assert len(_run(sources.bundled_source("train"))) == 4


def test_system_photos_hold_skimage_photos():
    names = [n for n, _ in photos.system_photos(wallpaper_dirs=[])]
    assert names == [f"skimage/{f}" for f in photos.SKIMAGE_PHOTOS]


def test_system_photos_read_wallpaper_dirs(tmp_path, caplog):
    wall = tmp_path / "wallpapers"
    images = wall / "Plasma" / "contents" / "images"
    os.makedirs(images)
    os.makedirs(wall / "theme")
    big = RNG.integers(0, 256, (256, 300, 3)).astype(np.uint8)
    Image.fromarray(big).save(wall / "theme" / "big.png")
    Image.fromarray(RGB).save(wall / "icon.png")  # too small to be a wallpaper photo
    wide = np.zeros((300, 600, 3), np.uint8)
    wide[..., 1] = 200
    # One wallpaper in three sizes (by name): the largest up to 1920x1200 is taken, the others never read.
    Image.fromarray(wide).save(images / "1920x1080.png")
    (images / "640x480.png").write_bytes(b"")  # would be logged as bad if it were read
    (images / "5120x2880.png").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        found = photos.system_photos(wallpaper_dirs=[str(wall), str(tmp_path / "absent")], max_side=512)
    assert not [r for r in caplog.records if str(wall) in r.getMessage()]
    names = [n for n, _ in found]
    assert names[len(photos.SKIMAGE_PHOTOS) :] == [
        "wallpapers/Plasma/contents/images/1920x1080.png",
        "wallpapers/theme/big.png",
    ]
    np.testing.assert_array_equal(found[-1][1], big)  # within max_side: untouched
    shrunk = found[-2][1]
    assert shrunk.shape == (256, 512, 3)  # long side shrunk to max_side, aspect ratio kept
    np.testing.assert_array_equal(shrunk[..., 1], 200)


def test_bundled_source_matches_bundled_photos():
    found = photos.bundled_photos()
    examples = _run(sources.bundled_source("train"))
    assert [ex["name"].decode() for ex in examples] == [n for n, _ in found]
    for ex, (_, image) in zip(examples, found, strict=True):
        np.testing.assert_array_equal(ex["image"], image)
    shard = _run(sources.bundled_source("train", num_shards=2, shard_index=1))
    assert [ex["name"].decode() for ex in shard] == [n for n, _ in found[1::2]]


def test_system_photos_source_is_opt_in_and_reads_wallpapers(tmp_path):
    Image.fromarray(RNG.integers(0, 256, (256, 260, 3)).astype(np.uint8)).save(tmp_path / "w.png")
    examples = _run(sources.system_photos_source("train[-1:]", wallpaper_dirs=[str(tmp_path)]))
    assert [ex["name"].decode() for ex in examples] == [f"{tmp_path.name}/w.png"]


@pytest.mark.parametrize("shuffle", [False, True])
def test_repeated_index_stream_skips_by_arithmetic(shuffle):
    def stream(skip: int, n: int) -> list[int]:
        ds = sources._index_stream(7, shuffle=shuffle, seed=3, repeat=True, skip=skip)
        return [int(i) for i in ds.take(n).as_numpy_iterator()]

    full = stream(0, 7 * 5)
    epochs = [full[7 * e : 7 * (e + 1)] for e in range(5)]
    assert all(sorted(e) == list(range(7)) for e in epochs)  # each epoch is a permutation
    assert (len({tuple(e) for e in epochs}) > 1) == shuffle  # reshuffled every epoch when shuffling
    for skip in (0, 3, 7, 16, 30):
        assert stream(skip, 5) == full[skip : skip + 5]
