"""The sample cache: atomic whole files, reuse of more samples than asked, keys that change with every
setting the samples depend on, and damaged files treated as missing; and the plots' one-line reason
when matplotlib is missing."""

from __future__ import annotations

import os

import numpy as np

from common.evaluate.cache import SampleCache, image_key, model_key


def test_save_load_and_partial_reuse(tmp_path):
    cache = SampleCache(str(tmp_path / "cache"))
    x = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3)).astype(np.uint8)
    assert cache.load_samples("m", "img", 2) is None
    cache.save("m", "img", "samples", x)
    np.testing.assert_array_equal(cache.load_samples("m", "img", 2), x[:2])
    np.testing.assert_array_equal(cache.load_samples("m", "img", 3), x)
    assert cache.load_samples("m", "img", 4) is None  # more asked than stored: sampled again
    assert (cache.count("m", "img"), cache.count("m", "other")) == (3, 0)
    assert [f for f in os.listdir(tmp_path / "cache" / "m") if f.startswith(".tmp")] == []
    with open(cache.path("m", "img", "samples"), "wb") as f:
        f.write(b"truncated")
    assert cache.load("m", "img", "samples") is None and cache.count("m", "img") == 0


def test_keys():
    base = model_key("coltran", weights="/a", seed=0, size=256, temperature=1.0, top_k=0)
    assert base == model_key("coltran", weights="/a", seed=0, size=256, temperature=1.0, top_k=0)
    assert base.startswith("coltran-")
    for change in ({"weights": "/b"}, {"seed": 1}, {"size": 64}, {"temperature": 0.5}, {"top_k": 3}):
        settings = {"weights": "/a", "seed": 0, "size": 256, "temperature": 1.0, "top_k": 0, **change}
        assert model_key("coltran", **settings) != base, change
    rgb = np.zeros((4, 4, 3), np.uint8)
    other = rgb.copy()
    other[0, 0, 0] = 1
    assert image_key("album/x y", rgb).startswith("album_x_y-")
    assert image_key("a", rgb) != image_key("a", other) != image_key("b", other)


def test_weights_fingerprint_follows_the_files(tmp_path):
    from common.evaluate.cache import weights_fingerprint

    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "ckpt").write_bytes(b"1234")
    first = weights_fingerprint(f"default: {tmp_path / 'w'}")
    assert first and first == weights_fingerprint(str(tmp_path / "w"))
    (tmp_path / "w" / "ckpt").write_bytes(b"12345")  # retrained at the same path
    assert weights_fingerprint(str(tmp_path / "w")) != first
    assert weights_fingerprint("baseline: luminance only") == ""


def test_plots_say_why_they_are_skipped_without_matplotlib(monkeypatch):
    import sys

    from common.evaluate import plots

    assert plots.available() is None
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert "matplotlib is not installed" in plots.available()
