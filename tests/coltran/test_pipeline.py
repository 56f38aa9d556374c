"""coltran/pipeline.py: any photo -> N colourings at its own size, with tiny random ColTran models."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from coltran.pipeline import colorize, join_luminance_chroma, luminance
from coltran.upsampler import SpatialUpsampler
from common.color import rgb_to_gray_np, rgb_to_ycbcr_np, ycbcr_to_rgb_np
from common.data.sources import ImageDecodeError, bundled_photos
from common.registry import build_model
from configs import coltran_color_upsampler, coltran_core, coltran_spatial_upsampler

HALF_LEVEL = 0.5 / 255 + 1e-6  # the most 8-bit rounding of R, G, B can move the luma


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    configs = (coltran_core, coltran_color_upsampler, coltran_spatial_upsampler)
    return tuple(build_model(m.get_config("tiny")) for m in configs)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo (scikit-image's chelsea, 300x451), subsampled to 75x113."""
    photos = dict(bundled_photos())
    name = next(n for n in photos if n.rsplit("/", 1)[-1].startswith("chelsea."))  # the package's file name
    return photos[name][::4, ::4]


def _luma(images: np.ndarray) -> np.ndarray:
    return rgb_to_gray_np(np.asarray(images, np.float64) / 255.0)[..., 0]


@pytest.mark.parametrize("shape", [(45, 70), (70, 45)], ids=["landscape", "portrait"])
def test_output_has_the_input_size_and_luminance(models, photo, shape):
    image = photo[: shape[0], : shape[1]]
    out = colorize(image, *models, num_samples=2, seed=1, temperature=1.0)
    assert out.images.shape == (2, *shape, 3) and out.images.dtype == np.uint8
    assert out.uncertainty.shape == (2, 8, 8) and out.uncertainty.min() > 0 and out.uncertainty.max() <= 1
    assert out.coarse.shape == out.low_res.shape == (2, 8, 8, 3)
    assert out.high_res.shape == (2, 32, 32, 3)
    for img in out.images:
        assert np.abs(_luma(img) - _luma(image)).max() <= HALF_LEVEL
    np.testing.assert_allclose(out.luminance, _luma(image), atol=1e-6)
    # The colour is the model's: each image's chroma is its own sample's 256-side chroma resized to the
    # input (PIL's bilinear resize as an independent reference), not the other sample's and not gray.
    def chroma(rgb8: np.ndarray) -> np.ndarray:
        return rgb_to_ycbcr_np(rgb8 / 255.0)[..., 1:] * 255.0

    resized = [np.asarray(Image.fromarray(h).resize(shape[::-1], Image.BILINEAR)) for h in out.high_res]
    for i, img in enumerate(out.images):
        assert np.abs(chroma(img) - chroma(resized[i])).mean() < 1.0  # 8-bit levels
        assert np.abs(chroma(img) - chroma(resized[1 - i])).mean() > 2.0
        assert np.abs(chroma(img) - 128.0).mean() > 2.0


def test_gray_input(models, photo):
    gray8 = np.round(_luma(photo[:40, :50]) * 255).astype(np.uint8)  # [H, W]
    out = colorize(gray8, *models, num_samples=1, seed=0)
    assert out.images.shape == (1, 40, 50, 3)
    assert np.abs(_luma(out.images[0]) - gray8 / 255.0).max() <= HALF_LEVEL
    assert (out.images[0, ..., 0] != out.images[0, ..., 2]).any()  # it is coloured, not gray
    # A float [H, W, 1] gray in [0, 1] gives the same result.
    same = colorize((gray8 / 255.0)[..., None].astype(np.float32), *models, num_samples=1, seed=0)
    np.testing.assert_array_equal(same.images, out.images)


def test_samples_differ_with_temperature_and_repeat_with_a_seed(models, photo):
    image = photo[:30, :40]
    a = colorize(image, *models, num_samples=3, seed=4, temperature=1.0).images
    b = colorize(image, *models, num_samples=3, seed=4, temperature=1.0).images
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])
    greedy = colorize(image, *models, num_samples=2, seed=4, temperature=0.0).images
    np.testing.assert_array_equal(greedy[0], greedy[1])


def test_file_input_applies_exif_orientation(models, photo, tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(np.ascontiguousarray(photo[:30, :50])).save(path, exif=exif)
    out = colorize(str(path), *models, num_samples=1)
    assert out.images.shape == (1, 50, 30, 3)


def test_bad_file_names_the_file(models, tmp_path):
    path = tmp_path / "not_an_image.png"
    path.write_text("hello")
    with pytest.raises(ImageDecodeError, match="not_an_image.png"):
        colorize(str(path), *models)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((8, 8, 4), np.uint8), r"\[H, W\], \[H, W, 1\] or \[H, W, 3\]"),
        (np.full((8, 8, 3), 2.0, np.float32), "float image values must be finite and in"),
        (np.full((8, 8), 300, np.int32), "integer image values must be in 0..255"),
        (np.zeros((8, 8), bool), "must be integer"),
    ],
)
def test_bad_images_are_rejected(image, message):
    with pytest.raises(ValueError, match=message):
        luminance(image)


def test_mismatched_models_are_rejected(models, photo):
    core, color_up, _ = models
    wrong = SpatialUpsampler(
        hidden_size=8, ff_size=8, num_heads=1, num_encoder_layers=1, resolution=32, low_resolution=16
    )  # the colour upsampler gives 8x8
    with pytest.raises(ValueError, match="low_resolution"):
        colorize(photo[:16, :16], core, color_up, wrong)
    with pytest.raises(ValueError, match="num_samples"):
        colorize(photo[:16, :16], *models, num_samples=0)


def test_join_keeps_luminance_and_in_gamut_colours():
    rng = np.random.default_rng(0)
    rgb8 = rng.integers(0, 256, (600, 9, 3))  # taller than one 256-row band
    np.testing.assert_allclose(luminance(rgb8.astype(np.uint8)), _luma(rgb8), atol=1e-6)
    ycbcr = rgb_to_ycbcr_np(rgb8 / 255.0, clip=False)
    # In-gamut chroma passes through unchanged (to 8-bit rounding).
    joined = join_luminance_chroma(ycbcr[..., 0], ycbcr[..., 1:])
    assert np.abs(joined.astype(int) - rgb8).max() <= 1
    # Out-of-gamut chroma at a bright luminance: clipping RGB would change Y; the join keeps it.
    y = np.full((4, 4), 0.9)
    cbcr = np.stack([np.full((4, 4), 1.0), np.full((4, 4), 0.5)], axis=-1)  # strong blue
    clipped = ycbcr_to_rgb_np(np.concatenate([y[..., None], cbcr], -1), clip=True)
    assert np.abs(rgb_to_gray_np(clipped)[..., 0] - y).max() > 5 / 255  # what naive clipping does
    out = join_luminance_chroma(y, cbcr)
    assert np.abs(_luma(out) - y).max() <= HALF_LEVEL
    assert (out[..., 2] > out[..., 0]).all()  # still blue, just less saturated
