"""The whole `colorize-evaluate` on tiny ColTran models (random weights): report, plots, FID from the
synthetic standard-FID graph, bad photos reported, and a rerun with one more photo reusing the cache."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from tests.evaluate.conftest import write_photos


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, workdirs, inception_pb):
    from common.evaluate.run import Options, evaluate

    root = tmp_path_factory.mktemp("e2e")
    write_photos(root / "photos", 5)
    (root / "photos" / "a_bad.jpg").write_text("not an image\n")  # sorted first: reported, skipped
    write_photos(root / "train", 2, start=10)
    opts = Options(
        data=str(root / "photos"), output=str(root / "out"), weights=f"coltran:{workdirs}", num_images=2,
        num_samples=2, size=32, batch_size=4, prior_data=str(root / "train"),
        inception_weights=str(inception_pb), resamples=50, fid_resamples=5,
    )  # fmt: skip
    stream = io.StringIO()
    return opts, evaluate(opts, stream=stream), stream.getvalue()


def test_report_files_rows_and_figures(first_run):
    opts, report, log = first_run
    for name in ("report.md", "report.json", "marginals.png", "ms_ssim.png", "grid.png", "bars.png"):
        assert os.path.getsize(os.path.join(opts.output, name)) > 0, name
    saved = json.loads(open(os.path.join(opts.output, "report.json")).read())
    labels = [r["label"] for r in saved["rows"]]
    assert labels[0].startswith("coltran (") and labels[1:] == ["gray", "global prior"]
    assert report["num_images"] == 2 and report["images"] == ["photos/p00", "photos/p01"]
    assert any("a_bad.jpg" in p for p in report["problems"]) and "a_bad.jpg" in log
    m = report["metrics"]
    for key in ("auc", "auc_rebalanced", "ab_hist_intersection", "colorfulness", "psnr_best", "fid"):
        for label in labels:
            e = m[key][label]
            assert np.isfinite([e["value"], e["low"], e["high"]]).all() and e["low"] <= e["high"], (key, e)
            if key not in ("fid", "ab_hist_intersection"):  # means; a resampled FID or intersection of
                # pooled histograms (duplicated photos) need not bracket the full-set figure
                assert e["low"] - 1e-9 <= e["value"] <= e["high"] + 1e-9, (key, label, e)
    assert "skipped" in m["diversity"]["gray"] and "value" in m["diversity"][labels[0]]
    assert "skipped" in m["bits_per_dim"]["gray"]
    assert "ColTran core" in m["bits_per_dim"][labels[0]]["event_space"]
    assert "313" in m["bits_per_dim"]["global prior"]["event_space"]
    assert m["colorfulness"]["gray"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert "value" in m["fid"]["ground truth"]
    assert report["fid"]["network"].startswith("standard TF FID Inception")
    assert "N = 2" in report["fid"]["warning"]
    md = open(os.path.join(opts.output, "report.md")).read()
    assert "| gray | n/a |" in md and "standard TF FID Inception" in md and "not comparable" in md


def test_coltran_bits_per_dim_equals_the_training_loss_route(first_run, workdirs):
    """The report's ColTran bits/dim against the core's compute_loss (another code path) on the same
    frames, preprocessed as in training."""
    import tensorflow as tf

    from coltran.colorizer import load
    from coltran.preprocessing import core_example
    from common.evaluate.data import take

    opts, report, _ = first_run
    model = load(workdirs)
    core = model.stages.core
    images, _, _ = take(opts.data, 2, opts.size)
    exs = [core_example({"image": tf.constant(x.rgb)}, False, resolution=core.resolution) for x in images]
    batch = {k: tf.stack([e[k] for e in exs]) for k in ("gray", "rgb")}
    _, aux = core.compute_loss(batch)
    expected = float(np.mean(aux["bits_per_dim"]))
    label = report["rows"][0]["label"]
    assert report["metrics"]["bits_per_dim"][label]["value"] == pytest.approx(expected, rel=1e-4)


def test_rerun_with_one_more_photo_samples_only_that_photo(first_run, monkeypatch):
    import dataclasses

    from common.evaluate import run, sampling

    opts, report, _ = first_run
    cache = os.path.join(opts.output, "cache")
    before = {
        os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns for d, _, fs in os.walk(cache) for f in fs
    }
    coloured = []
    original = sampling.colour_images

    def counting(model, images, s):
        coloured.extend((model.name, x.name) for x in images)
        return original(model, images, s)

    monkeypatch.setattr(sampling, "colour_images", counting)
    again = run.evaluate(dataclasses.replace(opts, num_images=3), stream=io.StringIO())
    assert sorted(coloured) == sorted((n, "photos/p02") for n in ("coltran", "gray", "prior"))
    for path, mtime in before.items():
        if ".feat-" not in path or "reference" not in path:  # the FID reference set moved on by one photo
            assert os.stat(path).st_mtime_ns == mtime, path
    assert again["num_images"] == 3
