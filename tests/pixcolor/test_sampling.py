"""PixColor's preprocessing, masks and `sample` contract: shapes at any size, the input's luminance kept,
independent noise per image, argmax at temperature 0, the refinement model's sampling of N chromas."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common.color import rgb_to_gray_np, rgb_to_ycbcr_np, ycbcr_to_rgb_np
from pixcolor.masked_conv import center_mask, channel_groups
from pixcolor.model import join_luminance
from pixcolor.preprocessing import sampling_size
from pixcolor.sampler import sample_bins
from tests.pixcolor.conftest import LOW, R, tiny_pixcolor, tiny_refinement


def test_channel_groups_and_center_masks():
    np.testing.assert_array_equal(channel_groups(2, "plain"), [0, 1])  # the input: Cr, Cb
    np.testing.assert_array_equal(channel_groups(8, "gated"), [0, 0, 1, 1, 0, 0, 1, 1])  # [f | g]
    a = center_mask(channel_groups(2, "plain"), channel_groups(4, "plain"), "A")
    np.testing.assert_array_equal(a, [[0, 0, 1, 1], [0, 0, 0, 0]])  # Cb features see Cr; Cr features nothing
    b = center_mask(channel_groups(4, "plain"), channel_groups(4, "plain"), "B")
    np.testing.assert_array_equal(b, [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]])


def test_preprocess_gives_neutral_bins_for_a_gray_photo_and_the_luma():
    model = tiny_pixcolor(0)
    rng = np.random.default_rng(0)
    gray_photo = np.repeat(rng.integers(0, 256, size=(50, 70, 1)), 3, axis=-1).astype(np.uint8)
    out = model.preprocess({"image": tf.constant(gray_photo)}, False)
    assert out["gray"].shape == (R, R, 1) and out["chroma"].shape == (LOW, LOW, 2)
    assert (out["chroma"].numpy() == model.quantizer.neutral_bin).all()
    photo = rng.integers(0, 256, size=(R, R, 3)).astype(np.uint8)  # already R x R: no resize
    out = model.preprocess({"image": tf.constant(photo)}, False)
    np.testing.assert_allclose(out["gray"].numpy(), rgb_to_gray_np(photo / 255.0), atol=1e-5)


def test_chroma_channels_are_cr_then_cb():
    model = tiny_pixcolor(0)
    red = np.zeros((R, R, 3), np.uint8)
    red[..., 0] = 200  # red: Cr far above neutral, Cb below it
    bins = model.preprocess({"image": tf.constant(red)}, False)["chroma"].numpy()
    _, cb, cr = rgb_to_ycbcr_np(np.array([200.0, 0.0, 0.0]) / 255.0)
    np.testing.assert_array_equal(bins[..., 0], model.quantizer.encode(cr).numpy())
    np.testing.assert_array_equal(bins[..., 1], model.quantizer.encode(cb).numpy())
    assert bins[0, 0, 0] > model.quantizer.neutral_bin > bins[0, 0, 1]
    # join_luminance reads them back in that order: a flat chroma gives the numpy YCbCr -> RGB.
    gray = np.full((1, 16, 16, 1), 0.4, np.float32)
    chroma = np.broadcast_to(np.array([0.7, 0.45], np.float32), (1, 1, 2, 2, 2))  # Cr, Cb
    want = ycbcr_to_rgb_np(np.array([0.4, 0.45, 0.7]))
    np.testing.assert_allclose(join_luminance(gray, chroma).numpy()[0, 0, 5, 5], want, atol=1e-5)


def test_sampling_size_keeps_the_aspect_ratio_with_the_short_side_at_the_resolution():
    assert sampling_size(600, 400, 224) == (336, 224)  # chroma 42 x 28 (fig. 9's non-square samples)
    assert sampling_size(400, 600, 224) == (224, 336)
    assert sampling_size(300, 300, 224) == (224, 224)
    assert sampling_size(100, 1000, 224) == (224, 2240)
    with pytest.raises(ValueError, match="positive"):
        sampling_size(0, 10, 224)


def test_sample_keeps_the_luminance_at_any_size():
    model = tiny_pixcolor(0)
    gray = np.random.default_rng(1).uniform(0.3, 0.7, size=(1, R, R + 16, 1)).astype(np.float32)
    out = model.sample(gray, num_samples=2, seed=3)
    assert out["rgb"].shape == (1, 2, R, R + 16, 3)
    assert out["bins"].shape == out["uncertainty"].shape == (1, 2, LOW, LOW + 2, 2)
    u = out["uncertainty"].numpy()
    assert (u > 0).all() and (u <= 1).all()
    rgb = out["rgb"].numpy()
    inside = ((rgb > 0) & (rgb < 1)).all(axis=-1)  # unclipped pixels keep the input's Y exactly
    assert inside.mean() > 0.5
    luma = rgb_to_gray_np(rgb)[..., 0]
    np.testing.assert_allclose(
        luma[inside], np.broadcast_to(gray[:, None, ..., 0], luma.shape)[inside], atol=1e-4
    )
    with pytest.raises(ValueError, match="multiples of 8"):
        model.sample(gray[:, :, :-4], num_samples=1)


def test_noise_is_independent_per_image_and_does_not_depend_on_the_batch():
    model = tiny_pixcolor(0)
    gray = np.random.default_rng(2).uniform(size=(1, R, R, 1)).astype(np.float32)
    two, _ = sample_bins(model, np.concatenate([gray, gray]), num_samples=1, seed=5, temperature=3.0)
    one, _ = sample_bins(model, gray, num_samples=1, seed=5, temperature=3.0)
    assert (two[0].numpy() != two[1].numpy()).any()  # two copies of one image: different samples
    np.testing.assert_array_equal(one[0].numpy(), two[0].numpy())  # image 0 alone: the same samples


@pytest.mark.parametrize("method", ["naive", "fast"])
def test_temperature_zero_and_top_1_are_the_argmax(method):
    model = tiny_pixcolor(0)
    gray = np.random.default_rng(3).uniform(size=(1, R, R, 1)).astype(np.float32)
    for kwargs in (dict(temperature=0.0), dict(temperature=1.0, top_k=1)):
        bins, _, logits = sample_bins(model, gray, seed=1, method=method, return_logits=True, **kwargs)
        np.testing.assert_array_equal(bins.numpy(), np.argmax(logits.numpy(), axis=-1))


def test_refinement_sample_takes_one_chroma_per_sample():
    model = tiny_refinement(0)
    rng = np.random.default_rng(4)
    gray = rng.uniform(size=(2, R, R, 1)).astype(np.float32)
    low = rng.uniform(size=(2, 3, LOW, LOW, 2)).astype(np.float32)
    out = model.sample(gray, chroma_low=low)
    assert out["rgb"].shape == (2, 3, R, R, 3) and out["chroma"].shape == (2, 3, R, R, 2)
    single = model.sample(gray[1:], chroma_low=low[1:, 2], num_samples=2)
    np.testing.assert_allclose(single["chroma"].numpy()[0, 1], out["chroma"].numpy()[1, 2], atol=1e-5)
    with pytest.raises(ValueError, match="chroma_low"):
        model.sample(gray)
