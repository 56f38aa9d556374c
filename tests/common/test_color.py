"""common/color.py against independent references (scikit-image for Lab, PIL and the JPEG formula for
YCbCr) over a dense grid of 8-bit colours, eagerly, inside tf.data and under gradients."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from skimage import color as skcolor

from common import color


def _grid_uint8() -> np.ndarray:
    """Every 4th 8-bit level per channel (plus 255), then all 256 grays: [65**3 + 256, 3] uint8."""
    levels = np.unique(np.r_[np.arange(0, 256, 4), 255])
    cube = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    grays = np.repeat(np.arange(256)[:, None], 3, axis=1)
    return np.concatenate([cube, grays]).astype(np.uint8)


GRID_U8 = _grid_uint8()
GRID = GRID_U8.astype(np.float64) / 255.0
GRID32 = GRID.astype(np.float32)
GRAYS = np.repeat(np.arange(256)[:, None], 3, axis=1).astype(np.float32) / 255.0


def _jpeg_ycbcr_reference(rgb: np.ndarray) -> np.ndarray:
    """JFIF / ITU-T T.871 full range, written from the standard's formulas on the 8-bit scale."""
    r, g, b = (rgb[..., i] * 255.0 for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128.0 + (b - y) / 1.772
    cr = 128.0 + (r - y) / 1.402
    return np.stack([y, cb, cr], axis=-1) / 255.0


def test_rgb_to_lab_matches_skimage_on_dense_grid():
    lab = color.rgb_to_lab(GRID32).numpy()
    ref = skcolor.rgb2lab(GRID)
    err = np.abs(lab - ref).max(axis=0)
    # Measured: |dL| 4e-5, |da| 2.5e-3, |db| 4.7e-3 (skimage's white point differs in the 5th digit).
    assert err[0] < 1e-3 and err[1] < 1e-2 and err[2] < 1e-2, err
    assert np.abs(color.rgb_to_lab_np(GRID) - ref).max() < 1e-2


def test_lab_to_rgb_matches_skimage_on_dense_grid():
    lab = skcolor.rgb2lab(GRID)
    rgb = color.lab_to_rgb(lab.astype(np.float32)).numpy()
    np.testing.assert_allclose(rgb, skcolor.lab2rgb(lab), atol=1e-3)  # measured 3.2e-4
    np.testing.assert_allclose(color.lab_to_rgb_np(lab), skcolor.lab2rgb(lab), atol=1e-3)


def test_lab_round_trip_and_ranges():
    lab = color.rgb_to_lab(GRID32)
    np.testing.assert_allclose(color.lab_to_rgb(lab).numpy(), GRID32, atol=1e-4)  # measured 7e-6
    lab = lab.numpy()
    assert lab[:, 0].min() >= 0.0 and lab[:, 0].max() <= 100.0 + 1e-4
    assert -90 < lab[:, 1].min() < -80 and 90 < lab[:, 1].max() < 100
    assert -110 < lab[:, 2].min() < -100 and 90 < lab[:, 2].max() < 100
    np.testing.assert_allclose(color.lab_to_rgb_np(color.rgb_to_lab_np(GRID)), GRID, atol=1e-9)


def test_lab_of_grays_and_extremes():
    lab = color.rgb_to_lab(GRAYS).numpy()
    assert np.abs(lab[:, 1:]).max() < 1e-3  # white point = XYZ of RGB white, so grays are neutral
    assert np.all(np.diff(lab[:, 0]) > 0)  # L strictly increasing with the gray level
    np.testing.assert_allclose(lab[0], [0.0, 0.0, 0.0], atol=1e-4)
    np.testing.assert_allclose(lab[-1], [100.0, 0.0, 0.0], atol=1e-3)


def test_tf_ops_match_numpy_twins():
    np.testing.assert_allclose(color.rgb_to_lab(GRID32).numpy(), color.rgb_to_lab_np(GRID32), atol=2e-3)
    np.testing.assert_allclose(color.rgb_to_ycbcr(GRID32).numpy(), color.rgb_to_ycbcr_np(GRID32), atol=1e-6)
    np.testing.assert_allclose(color.rgb_to_gray(GRID32).numpy(), color.rgb_to_gray_np(GRID32), atol=1e-6)
    ycbcr = color.rgb_to_ycbcr_np(GRID32)
    np.testing.assert_allclose(color.ycbcr_to_rgb(ycbcr).numpy(), color.ycbcr_to_rgb_np(ycbcr), atol=1e-5)
    lab = color.rgb_to_lab_np(GRID32)
    np.testing.assert_allclose(color.lab_to_rgb(lab).numpy(), color.lab_to_rgb_np(lab), atol=1e-5)
    assert color.rgb_to_lab_np(GRID32).dtype == np.float32 and color.rgb_to_lab_np(GRID).dtype == np.float64


def test_ycbcr_matches_jpeg_formula_and_pil():
    ycbcr = color.rgb_to_ycbcr(GRID32, clip=False).numpy()
    np.testing.assert_allclose(ycbcr, _jpeg_ycbcr_reference(GRID), atol=1e-6)
    clipped = color.rgb_to_ycbcr(GRID32).numpy()
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0
    # PIL truncates a fixed-point result to 8 bits: ours * 255 - PIL lies in [0, 1) up to its rounding
    # (measured [-0.044, 1.006]), and rounding ours differs from PIL by at most one 8-bit unit.
    pil = np.asarray(Image.fromarray(GRID_U8[:, None, :]).convert("YCbCr"))[:, 0].astype(np.float64)
    diff = clipped * 255.0 - pil
    assert diff.min() > -0.05 and diff.max() < 1.01, (diff.min(), diff.max())
    assert np.abs(np.round(clipped * 255.0) - pil).max() <= 1.0
    pil_rgb = np.asarray(Image.fromarray(pil.astype(np.uint8)[:, None, :], "YCbCr").convert("RGB"))[:, 0]
    back = color.ycbcr_to_rgb((pil / 255.0).astype(np.float32)).numpy() * 255.0
    assert np.abs(back - pil_rgb).max() <= 1.0


def test_ycbcr_round_trip_and_grays():
    exact = color.ycbcr_to_rgb(color.rgb_to_ycbcr(GRID32, clip=False), clip=False).numpy()
    np.testing.assert_allclose(exact, GRID32, atol=1e-5)  # measured 1.6e-7
    clipped = color.ycbcr_to_rgb(color.rgb_to_ycbcr(GRID32)).numpy()
    assert np.abs(clipped - GRID32).max() <= 1.0 / 255.0  # only near-pure red / blue are clipped
    gray = color.rgb_to_ycbcr(GRAYS).numpy()
    np.testing.assert_allclose(gray[:, 0], GRAYS[:, 0], atol=1e-6)
    np.testing.assert_allclose(gray[:, 1:], 128.0 / 255.0, atol=1e-6)


def test_rgb_to_gray_is_luma():
    gray = color.rgb_to_gray(GRID32)
    assert gray.shape == (GRID32.shape[0], 1)
    np.testing.assert_allclose(gray.numpy()[:, 0], color.rgb_to_ycbcr(GRID32).numpy()[:, 0], atol=1e-6)
    np.testing.assert_allclose(
        color.rgb_to_gray([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).numpy()[:, 0], [0.299, 0.587]
    )


def test_batched_shapes_and_tf_function():
    images = GRID32[: 2 * 5 * 7].reshape(2, 5, 7, 3)
    for fn in (color.rgb_to_lab, color.rgb_to_ycbcr):
        graph = tf.function(fn, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        out = graph(images).numpy()
        assert out.shape == (2, 5, 7, 3)
        # Graph vs eager and batched vs flat differ only by float32 rounding (Lab values up to 100).
        np.testing.assert_allclose(out, fn(images).numpy(), atol=1e-4)
        np.testing.assert_allclose(out.reshape(-1, 3), fn(GRID32[:70]).numpy(), atol=1e-4)


def test_inside_tf_data_equals_eager():
    images = GRID32[: 4 * 3 * 3].reshape(4, 3, 3, 3)
    ds = tf.data.Dataset.from_tensor_slices(images).map(
        lambda x: {
            "lab": color.rgb_to_lab(x),
            "rgb": color.lab_to_rgb(color.rgb_to_lab(x)),
            "ycbcr": color.rgb_to_ycbcr(x),
            "gray": color.rgb_to_gray(x),
        }
    )
    out = list(ds.as_numpy_iterator())
    for i, element in enumerate(out):
        np.testing.assert_allclose(element["lab"], color.rgb_to_lab(images[i]).numpy(), atol=1e-4)
        np.testing.assert_allclose(element["rgb"], images[i], atol=1e-4)
        np.testing.assert_allclose(element["ycbcr"], color.rgb_to_ycbcr(images[i]).numpy(), atol=1e-6)
        assert element["gray"].shape == (3, 3, 1)


@pytest.mark.parametrize(
    "fn",
    [
        color.rgb_to_lab,
        color.rgb_to_ycbcr,
        color.rgb_to_gray,
        lambda x: color.lab_to_rgb(color.rgb_to_lab(x)),
    ],
)
def test_gradients_are_finite_on_all_of_unit_cube(fn):
    # Every 17th level per channel plus the sRGB and Lab knees, black and white.
    levels = np.unique(np.r_[np.arange(0, 256, 17) / 255.0, 0.04045, 0.0031308, 0.008856, 1e-6, 0.0, 1.0])
    rgb = tf.constant(
        np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3), tf.float32
    )
    with tf.GradientTape() as tape:
        tape.watch(rgb)
        out = fn(rgb)
    grad = tape.gradient(out, rgb).numpy()
    assert np.all(np.isfinite(grad))
    assert np.abs(grad).max() > 0


def test_lab_gradient_at_black_and_against_finite_differences():
    with tf.GradientTape() as tape:
        rgb = tf.Variable([[0.0, 0.0, 0.0], [0.3, 0.6, 0.1]])
        lightness = tf.reduce_sum(color.rgb_to_lab(rgb)[:, 0])
    grad = tape.gradient(lightness, rgb).numpy()
    assert np.all(np.isfinite(grad)) and np.all(grad > 0)  # L increases with every channel
    eps = 1e-3
    for j in range(3):
        step = np.zeros(3, np.float64)
        step[j] = eps
        x = np.array([0.3, 0.6, 0.1])
        fd = (color.rgb_to_lab_np(x + step)[0] - color.rgb_to_lab_np(x - step)[0]) / (2 * eps)
        assert abs(grad[1, j] - fd) < 1e-2 * abs(fd)
    with tf.GradientTape() as tape:
        lab = tf.Variable([[0.0, 0.0, 0.0], [5.0, -20.0, 30.0], [50.0, 10.0, -10.0]])
        rgb = color.lab_to_rgb(lab, clip=False)
    assert np.all(np.isfinite(tape.gradient(rgb, lab).numpy()))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"common/color.py: rgb_to_lab\(rgb\) expects shape \[\.\.\., 3\]"):
        color.rgb_to_lab(tf.zeros([2, 4]))
    with pytest.raises(TypeError, match="convert_image_dtype"):
        color.rgb_to_ycbcr(tf.zeros([2, 3], tf.uint8))
    with pytest.raises(ValueError, match="lab_to_rgb_np"):
        color.lab_to_rgb_np(np.zeros([2, 2]))
    with pytest.raises(TypeError, match="rgb_to_gray_np"):
        color.rgb_to_gray_np(np.zeros([2, 3], np.uint8))
