"""common/data/preprocess.py: every op eagerly and inside tf.data, with exact expectations."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common.color import rgb_to_gray
from common.data import preprocess as pp


def in_tf_data(fn, *args):
    """Runs fn(*args) inside a tf.data map (graph mode, unknown static shapes) and returns numpy."""
    specs = tuple(tf.TensorSpec([None] * np.ndim(a), tf.as_dtype(np.asarray(a).dtype)) for a in args)
    ds = tf.data.Dataset.from_generator(lambda: iter([tuple(args)]), output_signature=specs)
    out = list(ds.map(fn).as_numpy_iterator())
    assert len(out) == 1
    return out[0]


def both(fn, *args):
    """(eager result, tf.data result) as numpy; asserts they are identical."""
    eager = np.asarray(fn(*[tf.constant(a) for a in args]))
    graph = np.asarray(in_tf_data(fn, *args))
    np.testing.assert_array_equal(eager, graph)
    return eager


def test_to_float01_scales_uint8_and_keeps_float():
    x = np.array([[[0, 128, 255]]], np.uint8)
    np.testing.assert_allclose(both(pp.to_float01, x), [[[0.0, 128 / 255, 1.0]]], rtol=1e-7)
    f = np.array([[[0.25, 0.5, 1.0]]], np.float32)
    np.testing.assert_array_equal(both(pp.to_float01, f), f)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (6, 3)])
def test_central_square_crop_exact(shape):
    h, w = shape
    x = np.arange(h * w * 2, dtype=np.int32).reshape(h, w, 2)
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    np.testing.assert_array_equal(both(pp.central_square_crop, x), x[top : top + s, left : left + s])


def _windows(x: np.ndarray) -> list[np.ndarray]:
    s = min(x.shape[:2])
    return [x[i : i + s, j : j + s] for i in range(x.shape[0] - s + 1) for j in range(x.shape[1] - s + 1)]


def seeded_both(fn, x: np.ndarray, num_seeds: int) -> list[np.ndarray]:
    """fn(x, seed) for seeds [5, k], k < num_seeds: eagerly and in one tf.data pass; asserts equality."""
    seeds = np.stack([np.full(num_seeds, 5), np.arange(num_seeds)], axis=1).astype(np.int64)
    eager = [np.asarray(fn(tf.constant(x), tf.constant(s))) for s in seeds]
    spec = tf.TensorSpec([None] * x.ndim, tf.as_dtype(x.dtype))
    images = tf.data.Dataset.from_generator(lambda: iter([x]), output_signature=spec).repeat(num_seeds)
    ds = tf.data.Dataset.zip(images, tf.data.Dataset.from_tensor_slices(seeds)).map(fn)
    graph = list(ds.as_numpy_iterator())
    assert len(graph) == num_seeds
    for e, g in zip(eager, graph, strict=True):
        np.testing.assert_array_equal(e, g)
    return eager


def test_random_square_crop_seeded_is_a_window_and_reaches_every_offset():
    x = np.arange(2 * 5 * 3, dtype=np.uint8).reshape(2, 5, 3)
    windows = _windows(x)
    assert len(windows) == 4
    hit = set()
    outs = seeded_both(pp.random_square_crop, x, 40)
    for out in outs:
        assert out.shape == (2, 2, 3)
        idx = [i for i, w in enumerate(windows) if np.array_equal(w, out)]
        assert len(idx) == 1
        hit.add(idx[0])
    assert hit == {0, 1, 2, 3}
    np.testing.assert_array_equal(seeded_both(pp.random_square_crop, x, 40), outs)  # replayable


def test_random_square_crop_unseeded_portrait():
    x = np.arange(7 * 3, dtype=np.float32).reshape(7, 3, 1)
    out = np.asarray(pp.random_square_crop(tf.constant(x)))
    assert any(np.array_equal(out, w) for w in _windows(x))
    out_graph = in_tf_data(pp.random_square_crop, x)
    assert any(np.array_equal(out_graph, w) for w in _windows(x))


def test_random_flip_seeded_is_image_or_mirror_and_both_happen():
    x = np.arange(3 * 4 * 3, dtype=np.uint8).reshape(3, 4, 3)
    seen = set()
    for out in seeded_both(pp.random_flip_left_right, x, 30):
        if np.array_equal(out, x):
            seen.add("same")
        else:
            np.testing.assert_array_equal(out, x[:, ::-1])
            seen.add("mirror")
    assert seen == {"same", "mirror"}
    unseeded = np.asarray(pp.random_flip_left_right(tf.constant(x)))
    assert np.array_equal(unseeded, x) or np.array_equal(unseeded, x[:, ::-1])


def test_split_seed_gives_distinct_deterministic_seeds():
    seeds = both(lambda s: pp.split_seed(s, 3), np.array([3, 4], np.int64))
    assert seeds.shape == (3, 2)
    assert len({tuple(s) for s in seeds}) == 3


def test_resize_area_block_means_and_constant():
    x = np.arange(4 * 6, dtype=np.float32).reshape(4, 6, 1)
    out = both(lambda a: pp.resize_area(a, (2, 3)), x)
    expected = x.reshape(2, 2, 3, 2, 1).mean(axis=(1, 3))
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)
    const = np.full((7, 9, 3), 123, np.uint8)
    out = both(lambda a: pp.resize_area(a, 4), const)
    assert out.dtype == np.float32 and out.shape == (4, 4, 3)
    np.testing.assert_allclose(out, 123.0, rtol=0, atol=1e-4)


def test_resize_antialiased_averages_stripes():
    # Every 4th column is 1: a 4x shrink should give the mean 0.25, a plain bilinear resize samples
    # between columns 1 and 2 of each period and sees only zeros (aliasing).
    stripes = np.tile((np.arange(16) % 4 == 0).astype(np.float32)[None, :, None], (16, 1, 1))
    out = both(lambda a: pp.resize_antialiased(a, 4), stripes)
    assert out.shape == (4, 4, 1)
    # Interior outputs: the triangle kernel (8 px wide) puts weight exactly 1/4 on each column phase.
    np.testing.assert_allclose(out[:, 1:3], 0.25, atol=1e-6)
    # Border outputs: the truncated kernel renormalised, 2/7 on the left and 5/28 on the right.
    np.testing.assert_allclose(out[:, 0], 2 / 7, atol=1e-6)
    np.testing.assert_allclose(out[:, 3], 5 / 28, atol=1e-6)
    plain = tf.image.resize(stripes, (4, 4), method="bilinear", antialias=False).numpy()
    np.testing.assert_array_equal(plain, 0.0)
    const = np.full((9, 5, 3), 200, np.uint8)
    np.testing.assert_allclose(both(lambda a: pp.resize_antialiased(a, (3, 2)), const), 200.0, atol=1e-3)


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((40, 60), (28, 42)),
        ((60, 40), (42, 28)),
        ((28, 28), (28, 28)),
        ((100, 151), (28, 42)),
        ((7, 5), (39, 28)),
    ],
)
def test_resize_smallest_side(shape, expected):
    x = np.full(shape + (3,), 50, np.uint8)
    out = both(lambda a: pp.resize_smallest_side(a, 28), x)
    assert out.shape == expected + (3,)
    np.testing.assert_allclose(out, 50.0, rtol=1e-5)  # area weights for a non-integer factor: float error
    np.testing.assert_array_equal(pp.smallest_side_size(shape[0], shape[1], 28), expected)


def test_resize_smallest_side_identity_at_target_size():
    x = np.random.default_rng(0).integers(0, 256, (28, 35, 3)).astype(np.uint8)
    np.testing.assert_allclose(
        both(lambda a: pp.resize_smallest_side(a, 28), x), x.astype(np.float32), atol=1e-4
    )


def test_to_gray_matches_common_color_for_uint8_and_float():
    x = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], np.uint8)
    gray = both(pp.to_gray, x)
    assert gray.shape == (1, 4, 1) and gray.dtype == np.float32
    np.testing.assert_allclose(gray[0, :3, 0], [0.299, 0.587, 0.114], atol=1e-6)
    np.testing.assert_allclose(gray, rgb_to_gray(x.astype(np.float32) / 255.0).numpy(), atol=1e-7)
    np.testing.assert_allclose(both(pp.to_gray, x.astype(np.float32) / 255.0), gray, atol=1e-7)


def _colorness_np(rgb8: np.ndarray) -> float:
    """Independent reference: JPEG full-range Cb, Cr (ITU-T T.871) in 8-bit units, no clipping needed."""
    r, g, b = (rgb8[..., i].astype(np.float64) for i in range(3))
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return float(np.mean(np.sqrt((cb - 128) ** 2 + (cr - 128) ** 2)) / 255.0)


def test_colorness_values():
    gray = np.repeat(np.arange(0, 256, 17, dtype=np.uint8).reshape(4, 4, 1), 3, axis=-1)
    assert both(pp.colorness, gray) == 0.0
    rng = np.random.default_rng(1)
    photo = rng.integers(20, 236, (6, 5, 3)).astype(np.uint8)  # away from the clipped corners
    np.testing.assert_allclose(both(pp.colorness, photo), _colorness_np(photo), rtol=1e-4)
    np.testing.assert_allclose(
        pp.colorness(photo.astype(np.float32) / 255.0), _colorness_np(photo), rtol=1e-4
    )
    # A tint of 5 8-bit units on one channel of a gray image stays far below PixColor's 0.05.
    tinted = gray.copy()
    tinted[..., 2] = np.clip(tinted[..., 2].astype(int) + 5, 0, 255)
    assert 0 < both(pp.colorness, tinted) < 0.01


def test_is_colorful_threshold():
    gray = np.full((4, 4, 3), 90, np.uint8)
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200
    assert not both(pp.is_colorful, gray)
    assert both(pp.is_colorful, red)
    value = float(pp.colorness(red))
    assert bool(pp.is_colorful(red, value)) and not bool(pp.is_colorful(red, value + 1e-3))
