"""`colorize-evaluate`'s metrics: per image first, then a figure and a bootstrap interval over images.

Each image i has ground truth gt_i uint8 [E, E, 3] and S samples uint8 [S, E, E, 3] from a model. Per image
(the metric functions are common/metrics.py's):
  auc             mean over samples of CIC's AuC of the ab error, thresholds 0..150 (CIC sec. 3.1)
  auc_rebalanced  the same with pixels weighted by class-rebalancing weights of their true ab bin
  colorfulness    mean over samples of Hasler & Suesstrunk's M (PIC sec. 4.3)
  diversity       mean MS-SSIM over the S(S-1)/2 sample pairs (PixColor fig. 8); lower = more diverse
  psnr_best       PSNR of the best of the S samples against the ground truth (dB; an exact match, e.g.
                  the gray baseline on a gray photo, counts as PSNR_MAX = 100 dB)
  hist_a, hist_b  the normalised 32-bin a and b histograms of the image's samples (PixColor fig. 7)
Aggregates over the images: the mean for the per-image numbers; for `ab_hist_intersection` the
intersection of the pooled a and b histograms with the ground truth's, averaged over a and b.
`bootstrap` resamples images with replacement (1000 times, seeded) and gives the 95% percentile interval.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

HIST_BINS = 32  # 8 ab units wide over [-128, 128) (common/metrics.py ab_histograms)
LEVEL = 0.95
RESAMPLES = 1000
PSNR_MAX = 100.0  # dB given to an exact match (the gray baseline on a gray photo), so means stay finite


def lab_ab(rgb: np.ndarray) -> np.ndarray:
    """uint8 [..., 3] -> float32 ab [..., 2]."""
    from common.color import rgb_to_lab_np

    return rgb_to_lab_np(np.asarray(rgb, np.float32) / 255.0)[..., 1:]


def image_scores(
    samples: np.ndarray, gt: np.ndarray, bin_weights: np.ndarray | None, *, diversity: bool = True
) -> dict[str, np.ndarray | float]:
    """One image's numbers (module docstring): samples uint8 [S, E, E, 3], gt uint8 [E, E, 3]."""
    from common import metrics

    ab_s, ab_t = lab_ab(samples), lab_ab(gt)
    out: dict[str, np.ndarray | float] = {
        "auc": float(np.mean([metrics.cic_auc(a, ab_t).numpy() for a in ab_s])),
        "colorfulness": float(np.mean(metrics.colorfulness(samples / 255.0).numpy())),
        "psnr_best": min(
            PSNR_MAX, float(np.max(metrics.psnr(samples / 255.0, np.broadcast_to(gt / 255.0, samples.shape))))
        ),
    }
    if bin_weights is not None:
        out["auc_rebalanced"] = float(
            np.mean([metrics.cic_auc_rebalanced(a, ab_t, bin_weights).numpy() for a in ab_s])
        )
    if diversity and len(samples) >= 2:
        out["diversity"] = float(metrics.pairwise_ms_ssim(samples[None] / 255.0).numpy()[0])
    hist = metrics.ab_histograms(ab_s, num_bins=HIST_BINS).numpy()
    out["hist_a"], out["hist_b"] = hist[0], hist[1]
    return out


def gt_scores(gt: np.ndarray) -> dict[str, np.ndarray | float]:
    """The ground truth's own row: colourfulness and its histograms."""
    from common import metrics

    hist = metrics.ab_histograms(lab_ab(gt), num_bins=HIST_BINS).numpy()
    return {
        "colorfulness": float(metrics.colorfulness(gt / 255.0).numpy()),
        "hist_a": hist[0],
        "hist_b": hist[1],
    }


def hist_intersection(hist_a: np.ndarray, hist_b: np.ndarray, gt_a: np.ndarray, gt_b: np.ndarray) -> float:
    """Per-image histograms [N, 32] of a model and of the ground truth -> mean over a, b of the
    intersection of the pooled (image-averaged) histograms."""
    inter = [np.minimum(m.mean(0), t.mean(0)).sum() for m, t in ((hist_a, gt_a), (hist_b, gt_b))]
    return float(np.mean(inter))


def bootstrap(
    statistic: Callable[[np.ndarray], float],
    num_items: int,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> tuple[float, float, float]:
    """(statistic over all items, low, high): `statistic(indices)` is recomputed on `resamples` draws of
    num_items indices with replacement (numpy's default_rng(seed)); the interval is the percentile one.
    With one item the interval is the value itself."""
    value = float(statistic(np.arange(num_items)))
    if num_items < 2:
        return value, value, value
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng.integers(0, num_items, num_items)) for _ in range(resamples)])
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return value, float(low), float(high)


def mean_ci(values: np.ndarray, seed: int = 0, resamples: int = RESAMPLES) -> tuple[float, float, float]:
    """The mean of per-image values and its bootstrap interval."""
    values = np.asarray(values, np.float64)
    return bootstrap(lambda idx: values[idx].mean(), len(values), resamples=resamples, seed=seed)
