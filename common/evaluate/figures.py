"""The report's figures from the cached samples: per-image scores, bootstrap intervals, FID.

Photos are scored one at a time from the cache (memory does not grow with the number of photos: each
row keeps per-photo numbers and two 32-bin histograms per photo). The class-rebalanced AuC weights come
from the training prior when there is one (CIC sec. 3.1: lambda = 0), else from the evaluated photos'
ground truth. FID follows ColTran's protocol (REFERENCES.md): the first sample of each of the N photos
against N held-out real photos (the next N of --data), or, when --data has no more, against the same
photos' ground truth (then said so, and the ground-truth row is 0 by construction).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from common.evaluate import scores
from common.evaluate.cache import SampleCache, image_key, model_key
from common.evaluate.data import EvalImage
from common.evaluate.sampling import features

GT = "ground truth"
FID_BIAS_N = 5000  # ColTran's FID uses 5,000 photos; fewer give an upward-biased FID
METRICS = (
    "bits_per_dim",
    "auc",
    "auc_rebalanced",
    "ab_hist_intersection",
    "colorfulness",
    "diversity",
    "psnr_best",
    "fid",
)
MEANS = ("auc", "auc_rebalanced", "colorfulness", "psnr_best", "diversity")


def ci(triple: tuple[float, float, float], n: int) -> dict[str, float]:
    return {"value": triple[0], "low": triple[1], "high": triple[2], "n": n}


def _bin_weights(prior: np.ndarray | None, images: list[EvalImage]) -> tuple[np.ndarray, str | None]:
    from common import cic

    source = None if prior is not None else "the evaluated photos' own ground truth"
    p = prior if prior is not None else cic.empirical_prior(scores.lab_ab(x.rgb) for x in images)
    try:
        w = cic.rebalancing_weights(p, lam=0.0)
    except ValueError:  # a bin with no mass even after smoothing
        w = cic.rebalancing_weights(p, lam=0.01)
    return np.minimum(w, 1e30), source  # bins the smoothed prior underflows: finite in float32


def compute(
    rows: list[Any],
    keys: dict[str, str],
    images: list[EvalImage],
    held_out: list[EvalImage],
    cache: SampleCache,
    opts: Any,
    prior: np.ndarray | None,
    prior_source: str,
    problems: list[str],
    skipped_models: list[str],
) -> dict[str, Any]:
    """The report dict (report.py): settings, rows, metrics {metric: {row label: figure or skipped}}, FID
    details, notes, per-image numbers and the pooled histograms for the plots."""
    from common.colorize.protocol import likelihood_of

    bin_weights, own = _bin_weights(prior, images)
    gt = [scores.gt_scores(x.rgb) for x in images]
    gt_hist = {c: np.stack([g[f"hist_{c}"] for g in gt]) for c in "ab"}
    metrics: dict[str, dict[str, Any]] = {m: {} for m in METRICS}
    per_image: dict[str, Any] = {}
    hists: dict[str, Any] = {}
    have: dict[str, list[int]] = {}
    for r in rows:
        key, found, s, bpd = keys[r.label], [], [], []
        for i, x in enumerate(images):
            smp = cache.load_samples(key, image_key(x.name, x.rgb), opts.num_samples)
            if smp is None:
                continue
            found.append(i)
            s.append(scores.image_scores(smp, x.rgb, bin_weights, diversity=not r.deterministic))
            b = cache.load(key, image_key(x.name, x.rgb), "bpd")
            if b is not None:
                bpd.append(float(b))
        have[r.label] = found
        if not found:
            for m in METRICS:
                metrics[m][r.label] = {"skipped": "no samples (see problems)"}
            continue
        per_image[r.label] = {
            "images": [images[i].name for i in found],
            **{m: [x[m] for x in s] for m in MEANS if all(m in x for x in s)},
        }
        for m in MEANS:
            values = [x[m] for x in s if m in x]
            if values:
                metrics[m][r.label] = ci(scores.mean_ci(values, opts.seed, opts.resamples), len(values))
            elif m == "diversity":
                why = "deterministic: one colouring per photo" if r.deterministic else "needs >= 2 samples"
                metrics[m][r.label] = {"skipped": why}
        h = (np.stack([x["hist_a"] for x in s]), np.stack([x["hist_b"] for x in s]))
        t = (gt_hist["a"][found], gt_hist["b"][found])
        hists[r.label] = {"a": h[0].mean(0).tolist(), "b": h[1].mean(0).tolist()}
        metrics["ab_hist_intersection"][r.label] = ci(
            scores.bootstrap(
                lambda idx, h=h, t=t: scores.hist_intersection(h[0][idx], h[1][idx], t[0][idx], t[1][idx]),
                len(found),
                resamples=opts.resamples,
                seed=opts.seed,
            ),
            len(found),
        )
        space = likelihood_of(r.model)
        if space is None:
            metrics["bits_per_dim"][r.label] = {"skipped": "no likelihood"}
        elif bpd:
            figure = ci(scores.mean_ci(bpd, opts.seed, opts.resamples), len(bpd))
            metrics["bits_per_dim"][r.label] = {**figure, "event_space": space}
    colourfulness = [g["colorfulness"] for g in gt]
    metrics["colorfulness"][GT] = ci(scores.mean_ci(colourfulness, opts.seed, opts.resamples), len(gt))
    fid_info = _fid(rows, keys, images, held_out, cache, opts, have, metrics)
    return {
        "settings": {k: v for k, v in dataclasses.asdict(opts).items() if k != "wait_s"},
        "rows": [
            {
                "label": r.label,
                "model": r.model.name,
                "weights": r.model.weights,
                "cache_key": keys[r.label],
                "likelihood": likelihood_of(r.model),
                "deterministic": r.deterministic,
            }
            for r in rows
        ],
        "num_images": len(images),
        "images": [x.name for x in images],
        "metrics": metrics,
        "fid": fid_info,
        "rebalancing": f"CIC class-rebalancing weights (lambda 0, sigma 5) from {own or prior_source}",
        "prior": prior_source,
        "skipped": list(skipped_models),
        "problems": list(problems),
        "per_image": per_image,
        "hists": hists,
        "gt_hist": {c: gt_hist[c].mean(0).tolist() for c in "ab"},
    }


def _fid_ci(feats: np.ndarray, ref: np.ndarray, resamples: int, seed: int) -> tuple[float, float, float]:
    """FID of feats against ref, and the 95% percentile interval over `resamples` bootstrap draws that
    resample both sets' photos (with replacement)."""
    from common import fid

    value = fid.fid_from_features(feats, ref)
    rng = np.random.default_rng(seed)
    n, m = len(feats), len(ref)
    draws = [
        fid.fid_from_features(feats[rng.integers(0, n, n)], ref[rng.integers(0, m, m)])
        for _ in range(resamples)
    ]
    if not draws:
        return value, value, value
    low, high = np.quantile(draws, [(1 - scores.LEVEL) / 2, (1 + scores.LEVEL) / 2])
    return value, float(low), float(high)


def _fid(rows, keys, images, held_out, cache, opts, have, metrics) -> dict[str, Any]:
    from common.evaluate import fid_net

    labels = [r.label for r in rows] + [GT]
    if not opts.inception_weights:
        for label in labels:
            metrics["fid"][label] = {"skipped": "no --inception_weights (a local Inception file)"}
        return {"network": None, "reason": "no --inception_weights given"}
    net = fid_net.load_network(opts.inception_weights)
    net_key = model_key("net", path=opts.inception_weights)[-12:]
    if len(held_out) >= 2:
        reference, ref_key = held_out, "reference"
        note = f"reference: the {len(held_out)} photos after the evaluated ones (ColTran's protocol)"
    else:
        reference, ref_key = images, "ground-truth"
        note = (
            "reference: the evaluated photos' own ground truth (--data has no further photos to hold out; "
            "not ColTran's protocol, and the ground-truth row is then 0 by construction)"
        )
    ref = features(net, net_key, ref_key, reference, cache, lambda x: x.rgb)
    sets = {GT: features(net, net_key, "ground-truth", images, cache, lambda x: x.rgb)}
    for r in rows:
        if len(have[r.label]) < 2:
            metrics["fid"][r.label] = {"skipped": "needs samples of >= 2 photos"}
            continue

        def first(x: EvalImage, key: str = keys[r.label]) -> np.ndarray:
            return cache.load_samples(key, image_key(x.name, x.rgb), 1)[0]

        sets[r.label] = features(
            net, net_key, keys[r.label], [images[i] for i in have[r.label]], cache, first
        )
    for label, feats in sets.items():
        metrics["fid"][label] = ci(_fid_ci(feats, ref, opts.fid_resamples, opts.seed), len(feats))
    warning = None
    if len(images) < FID_BIAS_N:
        warning = (
            f"FID on N = {len(images)} photos is biased upward at small N (ColTran uses {FID_BIAS_N}); "
            "compare only figures computed on the same N"
        )
    return {
        "network": net.label,
        "file": opts.inception_weights,
        "protocol": note,
        "resamples": opts.fid_resamples,
        "warning": warning,
        "first_sample_only": True,
    }
