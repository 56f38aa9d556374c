"""The `colorize` loop on tiny random ColTran stages: every input kind, outputs, provenance, resume,
seeds independent of batching, chunked samples, colour dropped, formats, exit codes."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from common.color import rgb_to_gray_np
from common.colorize import imageio, runner
from common.colorize.inputs import collect
from tests.colorize.conftest import BAD, GOOD, photo

HALF_LEVEL = 0.5 / 255 + 1e-6  # 8-bit rounding of R, G, B moves the luma by at most half a level


def _run(model, args, output, **kw):
    stream = io.StringIO()
    found, problems = collect([str(a) for a in args])
    opts = runner.Options(output=str(output), **kw)
    summary = runner.run(model, found, problems, opts, stream=stream)
    return summary, stream.getvalue(), found


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def album_run(model, inputs_dir, tmp_path_factory):
    folder, paths = inputs_dir
    out = tmp_path_factory.mktemp("out")
    missing = folder.parent / "missing.jpg"
    summary, log, found = _run(model, [folder, missing], out, num_samples=2, batch_size=4)
    return summary, log, out, paths, missing


def test_bad_inputs_get_one_line_each_and_do_not_stop_the_batch(album_run):
    summary, log, out, paths, missing = album_run
    assert (summary.done, summary.skipped, summary.failed) == (len(GOOD), 0, len(BAD) + 1)
    assert summary.exit_code == 1
    lines = log.splitlines()
    for kind in BAD:
        assert len([line for line in lines if line.startswith(f"colorize: {paths[kind]}:")]) == 1, kind
    assert len([line for line in lines if line.startswith(f"colorize: {missing}:")]) == 1
    assert (
        lines[-1] == f"colorize: {len(GOOD)} done, 0 skipped (outputs exist), {len(BAD) + 1} failed -> {out}"
    )
    assert "images" in log and "/min" in log and "ETA" in log  # the progress lines


@pytest.mark.parametrize("kind", GOOD)
def test_each_good_input_gets_its_samples_at_its_size_with_its_luminance(album_run, kind):
    _, _, out, paths, _ = album_run
    stem = out / "album" / paths[kind].stem
    y = imageio.read_luminance(str(paths[kind]), 10**9)
    samples = [_pixels(f"{stem}_sample{n}.png") for n in range(2)]
    for image in samples:
        assert image.shape == y.shape + (3,)
        np.testing.assert_allclose(rgb_to_gray_np(image / 255.0)[..., 0], y, atol=HALF_LEVEL)
    sheet = _pixels(f"{stem}_sheet.png")
    assert sheet.shape[0] > 192 and sheet.shape[1] > 5 * min(192, y.shape[1] * 192 // y.shape[0])
    provenance = imageio.read_provenance(f"{stem}_sample1.png")
    assert provenance["model"] == "coltran" and provenance["sample"] == 1
    assert provenance["name"] == f"album/{paths[kind].stem}" and provenance["input"] == str(paths[kind])
    for key in ("weights", "seed", "image_seed", "temperature", "top_k", "library_version"):
        assert key in provenance


def test_samples_differ_and_have_colour(album_run):
    _, _, out, _, _ = album_run
    a, b = _pixels(out / "album" / "rgb_sample0.png"), _pixels(out / "album" / "rgb_sample1.png")
    assert not np.array_equal(a, b)
    assert np.abs(a.astype(int) - a.mean(-1, keepdims=True)).max() > 10  # not gray


def test_a_second_run_skips_what_is_done(model, album_run, inputs_dir):
    folder, paths = inputs_dir
    _, _, out, _, _ = album_run
    before = {p: os.path.getmtime(p) for p in out.rglob("*.png")}
    summary, log, _ = _run(model, [paths[k] for k in GOOD[:3]], out / "album", num_samples=2, batch_size=4)
    assert (summary.done, summary.skipped, summary.failed, summary.exit_code) == (0, 3, 0, 0)
    assert {p: os.path.getmtime(p) for p in out.rglob("*.png")} == before


def test_batch_size_does_not_change_the_colourings(model, inputs_dir, tmp_path):
    _, paths = inputs_dir
    files = [paths["rgb_jpeg"], paths["gray_png"], paths["palette"]]
    _run(model, files, tmp_path / "b1", num_samples=2, batch_size=1, contact_sheet=False)
    _run(model, files, tmp_path / "b4", num_samples=2, batch_size=4, contact_sheet=False)
    # and a run that starts later in the list (as a resumed one does) gives the same files
    _run(model, files[2:], tmp_path / "late", num_samples=2, batch_size=4, contact_sheet=False)
    for f in files:
        for n in range(2):
            name = f"{f.stem}_sample{n}.png"
            np.testing.assert_array_equal(_pixels(tmp_path / "b1" / name), _pixels(tmp_path / "b4" / name))
    np.testing.assert_array_equal(
        _pixels(tmp_path / "late" / "palette_sample1.png"), _pixels(tmp_path / "b1" / "palette_sample1.png")
    )


def test_many_samples_go_through_the_core_in_chunks_of_batch_size(model, inputs_dir, tmp_path, monkeypatch):
    _, paths = inputs_dir
    sizes = []
    original = model.stages.sample

    def spy(small, large, seeds, temperature, top_k):
        sizes.append(len(seeds))
        return original(small, large, seeds, temperature, top_k)

    monkeypatch.setattr(model.stages, "sample", spy)
    summary, _, _ = _run(model, [paths["gray_png"], paths["1x1"]], tmp_path, num_samples=5, batch_size=4)
    assert summary.done == 2
    assert sizes == [4, 4, 2]  # 10 draws, at most 4 per call
    assert len(list(tmp_path.glob("*_sample*.png"))) == 10


def _same_luma_colour(gray: np.ndarray, seed: int = 0) -> np.ndarray:
    """A colour image whose BT.601 luma is exactly `gray` (offsets with 299 a + 587 b + 114 c = 0)."""
    offsets = np.array([[-41, 17, 20], [41, -17, -20], [-15, 9, -7], [26, -8, -27], [0, 0, 0]])
    pick = offsets[np.random.default_rng(seed).integers(0, len(offsets), gray.shape)]
    return (gray[..., None].astype(int) + pick).astype(np.uint8)


def test_colour_inputs_are_treated_as_grayscale(model, tmp_path):
    gray = np.clip(photo(36, 52)[..., 1], 60, 195)
    colour = _same_luma_colour(gray)
    assert np.abs(colour.astype(int) - gray[..., None]).max() > 20
    (tmp_path / "g").mkdir()
    (tmp_path / "c").mkdir()
    Image.fromarray(gray).save(tmp_path / "g" / "p.png")
    Image.fromarray(colour).save(tmp_path / "c" / "p.png")
    _run(model, [tmp_path / "g" / "p.png"], tmp_path / "out_g", num_samples=2, batch_size=2)
    _run(model, [tmp_path / "c" / "p.png"], tmp_path / "out_c", num_samples=2, batch_size=2)
    for name in ("p_sample0.png", "p_sample1.png", "p_sheet.png"):
        np.testing.assert_array_equal(_pixels(tmp_path / "out_g" / name), _pixels(tmp_path / "out_c" / name))


def test_jpeg_output_without_sheet_keeps_provenance_in_exif(model, inputs_dir, tmp_path):
    _, paths = inputs_dir
    summary, _, _ = _run(
        model, [paths["rgb_jpeg"]], tmp_path, num_samples=1, format="jpg", contact_sheet=False
    )
    assert summary.exit_code == 0
    assert sorted(os.listdir(tmp_path)) == ["rgb_sample0.jpg"]
    assert Image.open(tmp_path / "rgb_sample0.jpg").format == "JPEG"
    assert imageio.read_provenance(str(tmp_path / "rgb_sample0.jpg"))["sample"] == 0


def test_a_model_failure_fails_its_images_and_the_run_goes_on(model, inputs_dir, tmp_path, monkeypatch):
    _, paths = inputs_dir
    original = model.stages.sample
    calls = []

    def flaky(small, large, seeds, temperature, top_k):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return original(small, large, seeds, temperature, top_k)

    monkeypatch.setattr(model.stages, "sample", flaky)
    files = [paths["gray_png"], paths["rgb_jpeg"]]
    summary, log, _ = _run(model, files, tmp_path, num_samples=1, batch_size=1)
    assert (summary.done, summary.failed, summary.exit_code) == (1, 1, 1)
    assert f"colorize: {paths['gray_png']}: the model failed: RuntimeError: out of memory" in log
