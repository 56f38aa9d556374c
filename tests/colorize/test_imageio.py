"""common/colorize/imageio.py: every input kind of issue 12, the strip-wise resizes against TensorFlow's
and the pipeline's, atomic writes with provenance."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common.color import rgb_to_gray_np
from common.colorize import imageio
from tests.colorize.conftest import BAD, GOOD, bomb_png, photo

MESSAGES = {
    "zero_bytes": "empty file",
    "text": "not a recognised image",
    "truncated": "truncated",
    "bomb": "decompression bomb",
}


@pytest.mark.parametrize("kind", BAD)
def test_bad_inputs_are_one_line_naming_the_file(inputs_dir, kind):
    _, paths = inputs_dir
    with pytest.raises(imageio.BadImage) as e:
        imageio.read_luminance(str(paths[kind]), max_pixels=180_000_000)
    message = str(e.value)
    assert message.startswith(str(paths[kind])) and "\n" not in message
    assert MESSAGES[kind] in message, message


def test_max_pixels_is_read_from_the_header_before_decoding(tmp_path):
    bomb = tmp_path / "big.png"
    bomb_png(
        bomb, 5000, 4000
    )  # 20 MP claimed, 8x8 of data: decoding would fail, the header check comes first
    with pytest.raises(imageio.BadImage, match=r"5000x4000 = 20000000 pixels is over --max_pixels=1000000"):
        imageio.read_luminance(str(bomb), max_pixels=1_000_000)


def _expected_luma(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_gray_np(rgb / 255.0)[..., 0]


@pytest.mark.parametrize("kind", GOOD)
def test_awkward_inputs_decode_to_their_luminance(inputs_dir, kind):
    _, paths = inputs_dir
    y = imageio.read_luminance(str(paths[kind]), max_pixels=180_000_000)
    assert y.dtype == np.float32 and y.min() >= 0 and y.max() <= 1
    rgb = photo()
    if kind == "1x1":
        assert y.shape == (1, 1)
        np.testing.assert_allclose(y, _expected_luma(rgb[:1, :1]), atol=1 / 255)
        return
    if kind == "exif_rotated":  # orientation 6: displayed rotated 90 degrees clockwise
        assert y.shape == (60, 40)
        right = np.abs(y - _expected_luma(np.rot90(rgb, -1))).mean()
        wrong = np.abs(y - _expected_luma(np.rot90(rgb, 1))).mean()
        assert right < 3 / 255 and wrong > 10 * right, (right, wrong)
        return
    assert y.shape == (40, 60)
    if kind == "rgba":  # half-transparent on white
        composite = (rgb.astype(np.float64) * 128 + 255 * 127) / 255
        np.testing.assert_allclose(y, _expected_luma(composite), atol=1.5 / 255)
        return
    tolerance = {"rgb_jpeg": 6, "cmyk": 8, "palette": 20}.get(kind, 1.01)
    assert np.abs(y - _expected_luma(rgb)).mean() < tolerance / 255 / 2, kind
    assert np.abs(y - _expected_luma(rgb)).max() < tolerance * 3 / 255, kind


@pytest.mark.parametrize("shape", [(75, 113), (1, 1), (600, 7), (5, 300)])
def test_squash_is_tensorflow_area_resize(shape):
    y = np.random.default_rng(0).random(shape).astype(np.float32)
    for size in (8, 32):
        ref = tf.image.resize(y[..., None], (size, size), method="area").numpy()[..., 0]
        np.testing.assert_allclose(imageio.squash(y, size), ref, atol=1e-6)


@pytest.mark.parametrize("shape", [(75, 113), (1, 1), (600, 7)])
def test_unsquash_is_the_pipelines_chroma_resize_and_join(shape, monkeypatch):
    from coltran.pipeline import join_luminance_chroma

    monkeypatch.setattr(imageio, "STRIP_ROWS", 64)  # several strips even for these small images
    rng = np.random.default_rng(1)
    y = rng.random(shape).astype(np.float32)
    square = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    from common.color import rgb_to_ycbcr

    cbcr = tf.image.resize(
        rgb_to_ycbcr(tf.constant(square / 255.0, tf.float32))[..., 1:],
        shape,
        method="bilinear",
        antialias=True,
    )
    ref = join_luminance_chroma(y, cbcr.numpy())
    out = imageio.unsquash(y, square)
    assert out.shape == shape + (3,) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - ref).max() <= 1  # float32 vs float64 chroma: at most one 8-bit level


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_write_image_is_atomic_and_records_provenance(tmp_path, ext, monkeypatch):
    path = str(tmp_path / "out" / f"x.{ext}")
    provenance = {"model": "coltran", "seed": 3, "sample": 1, "library_version": "0.1.0"}
    imageio.write_image(photo(), path, provenance)
    assert imageio.read_provenance(path) == provenance
    assert Image.open(path).size == (60, 40)
    before = open(path, "rb").read()

    def broken_save(self, fp, *args, **kwargs):  # dies half-way through the encoding
        fp.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        imageio.write_image(photo(seed=1), path, provenance)
    assert open(path, "rb").read() == before  # the old file, whole
    assert os.listdir(tmp_path / "out") == [f"x.{ext}"]  # no temporary left behind
