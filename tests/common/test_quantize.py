"""common/quantize.py: exhaustive round trips over every bin, symbol and 8-bit level."""

import numpy as np
import pytest
import tensorflow as tf

from common import quantize
from common.quantize import UniformQuantizer

LEVELS = np.arange(256)


def test_uniform_quantizer_round_trips_every_bin():
    q = UniformQuantizer(32)
    idx = np.arange(32)
    np.testing.assert_array_equal(q.encode(q.decode(idx)).numpy(), idx)
    np.testing.assert_allclose(q.decode(idx).numpy(), (idx + 0.5) / 32.0, atol=1e-7)
    np.testing.assert_allclose(q.centers, (idx + 0.5) / 32.0, atol=1e-7)
    assert np.all(np.diff(q.centers) > 0) and np.all(np.diff(q.edges) > 0)
    assert q.edges[0] == 0.0 and q.edges[-1] == 1.0 and q.edges.shape == (33,)


def test_uniform_quantizer_edges_and_out_of_range():
    q = UniformQuantizer(32)
    x = np.array([0.0, 1.0, -0.5, 1.5, 1.0 / 32 - 1e-4, 1.0 / 32 + 1e-4, 0.5 + 1e-4, 1.0 - 1e-4])
    np.testing.assert_array_equal(q.encode(x).numpy(), [0, 31, 0, 31, 0, 1, 16, 31])
    # Every value in [0, 1] lands in the bin whose edges contain it.
    x = np.linspace(0.0, 1.0, 10001, dtype=np.float32)
    idx = q.encode(x).numpy()
    assert idx.dtype == np.int32 and idx.min() == 0 and idx.max() == 31
    assert np.all(np.diff(idx) >= 0)
    assert np.all(np.abs(q.decode(idx).numpy() - x) <= 0.5 / 32 + 1e-6)


def test_uniform_quantizer_custom_range_and_batch_shape():
    q = UniformQuantizer(4, low=-1.0, high=1.0)
    np.testing.assert_allclose(q.centers, [-0.75, -0.25, 0.25, 0.75])
    x = tf.constant([[[-1.0, -0.3], [0.2, 1.0]]])
    np.testing.assert_array_equal(q.encode(x).numpy(), [[[0, 1], [2, 3]]])
    assert q.get_config() == {"num_bins": 4, "low": -1.0, "high": 1.0}


@pytest.mark.parametrize("args", [(0,), (2.5,), (True,), (4, 1.0, 1.0), (4, 1.0, 0.0)])
def test_uniform_quantizer_rejects_bad_arguments(args):
    with pytest.raises(ValueError, match="common/quantize.py: UniformQuantizer"):
        UniformQuantizer(*args)


def test_coarse_levels_of_every_8bit_value():
    # ColTran convert_bits(x, 8, 3): truncating division by 32.
    for dtype in (np.uint8, np.int32, np.float32):
        x8 = np.repeat(LEVELS[:, None], 3, axis=1).astype(dtype)
        coarse = quantize.to_coarse(x8).numpy()
        assert coarse.dtype == np.int32
        np.testing.assert_array_equal(coarse[:, 0], LEVELS // 32)
    np.testing.assert_array_equal(quantize.to_coarse(LEVELS, bits=8).numpy(), LEVELS)
    np.testing.assert_array_equal(quantize.to_coarse(LEVELS, bits=1).numpy(), LEVELS // 128)
    # The 8-bit representative is the bin's lower edge (ColTran convert_bits(c, 3, 8) = c * 32).
    rep = quantize.coarse_to_8bit(quantize.to_coarse(LEVELS)).numpy()
    assert np.all(rep <= LEVELS) and np.all(LEVELS - rep < 32)
    np.testing.assert_array_equal(quantize.coarse_to_8bit(np.arange(8)).numpy(), np.arange(8) * 32)
    np.testing.assert_array_equal(
        quantize.to_coarse(quantize.coarse_to_8bit(np.arange(8))).numpy(), np.arange(8)
    )


def test_every_symbol_round_trips_in_coltran_order():
    symbols = np.arange(512)
    coarse = quantize.symbol_to_coarse(symbols).numpy()
    assert coarse.shape == (512, 3) and coarse.min() == 0 and coarse.max() == 7
    # ColTran labels_to_bins: R is most significant (R * 64 + G * 8 + B).
    np.testing.assert_array_equal(coarse, np.stack([symbols // 64, symbols // 8 % 8, symbols % 8], axis=-1))
    np.testing.assert_array_equal(quantize.coarse_to_symbol(coarse).numpy(), symbols)
    assert len({tuple(c) for c in coarse}) == 512
    assert (
        quantize.coarse_to_symbol([7, 0, 0]).numpy() == 448
        and quantize.coarse_to_symbol([0, 0, 7]).numpy() == 7
    )
    two_bits = np.arange(64)
    np.testing.assert_array_equal(
        quantize.coarse_to_symbol(quantize.symbol_to_coarse(two_bits, 2), 2), two_bits
    )


def test_8bit_labels_round_trip_every_level():
    np.testing.assert_array_equal(quantize.to_8bit(quantize.from_8bit(LEVELS)).numpy(), LEVELS)
    np.testing.assert_allclose(quantize.from_8bit(LEVELS.astype(np.uint8)).numpy(), LEVELS / 255.0, atol=1e-7)
    np.testing.assert_array_equal(
        quantize.to_8bit([-0.2, 0.0, 0.5 / 255 - 1e-4, 1.0, 1.3]).numpy(), [0, 0, 0, 255, 255]
    )


def test_batched_images_and_inside_tf_data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 4, 5, 3), dtype=np.uint8)

    def pipeline(image):
        symbols = quantize.coarse_to_symbol(quantize.to_coarse(image))
        return symbols, quantize.coarse_to_8bit(quantize.symbol_to_coarse(symbols))

    ds = tf.data.Dataset.from_tensor_slices(images).map(pipeline)
    for image, (symbols, rep) in zip(images, ds.as_numpy_iterator(), strict=True):
        c = image.astype(np.int64) // 32
        np.testing.assert_array_equal(symbols, c[..., 0] * 64 + c[..., 1] * 8 + c[..., 2])
        np.testing.assert_array_equal(rep, c * 32)
    eager_symbols, _ = pipeline(images)
    assert eager_symbols.shape == (3, 4, 5)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"common/quantize.py: to_coarse\(bits\)"):
        quantize.to_coarse(LEVELS, bits=0)
    with pytest.raises(
        ValueError, match=r"common/quantize.py: coarse_to_symbol\(c\) expects shape \[\.\.\., 3\]"
    ):
        quantize.coarse_to_symbol(np.zeros([4, 2], np.int32))


@pytest.mark.parametrize("name", ["to_coarse", "to_8bit"])
def test_nan_is_an_error_eagerly_in_tf_function_and_in_tf_data(name):
    fn = getattr(quantize, name)
    scale = 255.0 if name == "to_coarse" else 1.0
    bad = tf.constant([[0.5 * scale, np.nan, 0.1 * scale]])
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{name} got a NaN input"):
        fn(bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{name} got a NaN input"):
        tf.function(fn)(bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{name} got a NaN input"):
        list(tf.data.Dataset.from_tensors(bad).map(fn))
    # The same values without the NaN still quantize (and Inf saturates, as any out-of-range value).
    good = tf.constant([[0.5 * scale, np.inf, -np.inf]])
    top = 7 if name == "to_coarse" else 255
    np.testing.assert_array_equal(fn(good).numpy(), [[fn(tf.constant([0.5 * scale])).numpy()[0], top, 0]])
