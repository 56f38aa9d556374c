"""CIC through the generic trainer (common.train) on configs/cic.py:tiny and the bundled photos, with a
prior made by `python -m cic.prior`; the prior itself against a brute-force count."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image
from skimage.color import rgb2lab

from common.cic import ab_bins
from common.train import load_for_inference
from common.train.summaries import METRICS_FILE, read_metrics_log


def test_trainer_runs_cic_and_the_loss_falls(trained):
    rows = read_metrics_log(os.path.join(trained["workdir"], METRICS_FILE))
    assert [r["step"] for r in rows] == list(range(1, 21))
    losses = np.array([r["loss"] for r in rows])
    assert np.isfinite(losses).all()
    assert losses[-5:].mean() < 0.8 * losses[:5].mean(), losses  # 3 photos, lr 3e-3: it fits them
    assert {"bits_per_dim", "cross_entropy"} <= set(rows[-1])
    assert trained["result"].checkpoint.endswith("ckpt-20")


def test_checkpoint_keeps_the_rebalancing_weights_and_batch_norm_statistics(trained, tmp_path):
    """A model loaded from the run on a machine without the prior file gets the weights from the
    checkpoint (not ones), and the batch-norm statistics moved during training."""
    from tests.cic.conftest import tiny_config

    config = tiny_config()
    config.model.prior_file = str(tmp_path / "moved_away.npy")
    model = load_for_inference(config, trained["workdir"])
    weights = model.rebalance_weights.numpy()
    assert not np.allclose(weights, 1.0) and np.isfinite(weights).all()
    prior = np.load(trained["prior"])
    np.testing.assert_allclose((weights * _smoothed(prior)).sum(), 1.0, rtol=1e-4)  # E_p̃[w] = 1
    mean = model.network.blocks[0].norm.moving_mean.numpy()
    assert np.abs(mean).max() > 0  # starts at 0


def _smoothed(prior: np.ndarray) -> np.ndarray:
    from common.cic import smooth_prior

    return smooth_prior(prior, 5.0)


def test_prior_counts_the_nearest_bins_of_every_output_pixel(trained):
    """cic.prior on the run's photos == a brute-force count of scikit-image Lab's nearest bins at every
    4th pixel of each central crop area-resized to 32 (8-bit rounded)."""
    import tensorflow as tf

    prior = np.load(trained["prior"])
    assert prior.shape == (313,) and abs(prior.sum() - 1) < 1e-12
    counts = np.zeros(313)
    bins = ab_bins().astype(np.float64)
    for name in sorted(os.listdir(trained["photos"])):
        image = np.asarray(Image.open(os.path.join(trained["photos"], name)))
        h, w = image.shape[:2]
        s = min(h, w)
        crop = image[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        small = np.round(tf.image.resize(crop.astype(np.float32), (32, 32), method="area").numpy())
        ab = rgb2lab(small / 255.0)[::4, ::4, 1:]
        nearest = ((ab[..., None, :] - bins) ** 2).sum(-1).argmin(-1)
        counts += np.bincount(nearest.ravel(), minlength=313)
    # Lab within 0.01 of scikit-image's: a pixel on a bin boundary may flip, nothing more.
    assert np.abs(prior - counts / counts.sum()).sum() <= 2 * 2 / counts.sum()
