"""The README's main job: low-resolution chroma of real photos, on a contact sheet."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from common import color, contact_sheet, demo
from common.data import bundled_photos


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    name, rgb = next(p for p in bundled_photos() if "chelsea" in p[0])
    return np.asarray(Image.fromarray(rgb).resize((120, 90), Image.BOX))  # landscape, not square


def _luma(rgb: np.ndarray) -> np.ndarray:
    return color.rgb_to_gray_np(rgb.astype(np.float64) / 255.0)[..., 0] * 255.0


def test_each_column_keeps_the_photos_size_and_luminance(photo: np.ndarray) -> None:
    row = demo.figure_row(photo)
    assert len(row) == len(demo.COLUMN_LABELS)
    for index in (2, 4, 5):  # results that are joined with the original luminance
        out = row[index]
        assert out.shape == photo.shape and out.dtype == np.uint8
        # Y survives up to 8-bit rounding, except where the new chroma leaves the RGB gamut and is clipped.
        err = np.abs(_luma(out) - _luma(photo))
        assert np.median(err) <= 0.6 and np.mean(err < 2.0) > 0.97, demo.COLUMN_LABELS[index]
    assert row[3].shape == (64, 64, 3)
    assert np.all(row[3] % 32 == 0)  # 3-bit levels, 8-bit lower edges as in ColTran
    assert row[1].shape == photo.shape[:2]


def test_low_resolution_chroma_loses_colour_but_not_all(photo: np.ndarray) -> None:
    truth = color.rgb_to_ycbcr_np(photo / 255.0)[..., 1:]
    pix = color.rgb_to_ycbcr_np(demo.pixcolor_low_res_chroma(photo) / 255.0)[..., 1:]
    gray_error = np.abs(truth - 128 / 255).mean()
    pix_error = np.abs(truth - pix).mean()
    assert 0 < pix_error < 0.5 * gray_error  # far closer than no colour at all, yet not identical


def test_contact_sheet_layout() -> None:
    tiles = [np.zeros((10, 20, 3), np.uint8), np.ones((10, 10)), np.full((5, 5, 1), 255, np.uint8)]
    sheet = contact_sheet.contact_sheet([tiles, tiles[:2]], labels=["a", "b", "c"], tile_height=20, gap=2)
    assert sheet.dtype == np.uint8 and sheet.shape[0] == contact_sheet.LABEL_HEIGHT + 2 + 2 * 22 + 2
    assert sheet.shape[1] == 40 + 20 + 20 + 4 * 2
    with pytest.raises(ValueError, match="tile"):
        contact_sheet.contact_sheet([[np.zeros((2, 2, 2))]])


def test_cli_writes_sheet_and_skips_a_bad_file(tmp_path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), np.uint8)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    out = tmp_path / "sheet.png"
    proc = subprocess.run(
        [sys.executable, "-m", "common.demo_main", f"--input={bad},{good}", f"--output={out}"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "bad.jpg" in proc.stderr and "skipped" in proc.stderr
    sheet = np.asarray(Image.open(out))
    assert sheet.ndim == 3 and sheet.shape[1] > 6 * 40  # one row of six tiles
    assert not list(tmp_path.glob(".tmp-*"))  # no half-written file left behind


def test_pixcolor_column_keeps_gray_gray() -> None:
    """A gray photo stays gray through the 32-bin chroma (a uniform split of [0, 1] tints 128 magenta)."""
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    photo = np.repeat(levels[..., None], 3, axis=-1)
    out = demo.pixcolor_low_res_chroma(photo).astype(int)
    assert np.abs(out - photo.astype(int)).max() <= 1  # 8-bit rounding of the YCbCr round trip at most
    assert np.abs(out[..., 0] - out[..., 1]).max() <= 1 and np.abs(out[..., 2] - out[..., 1]).max() <= 1
    flat = np.full((8, 8, 3), 128, np.uint8)
    np.testing.assert_array_equal(demo.pixcolor_low_res_chroma(flat), flat)
