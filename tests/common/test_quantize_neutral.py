"""PixColor's 32 chroma bins with neutral gray (8-bit 128) as a bin centre."""

import numpy as np
import pytest

from common.quantize import NeutralCenteredQuantizer


def test_every_8bit_level_goes_to_its_nearest_centre() -> None:
    q = NeutralCenteredQuantizer(32)
    levels = np.arange(256)
    centres8 = np.arange(0, 256, 8)  # independent: 0, 8, ..., 248
    distance = np.abs(levels[:, None] - centres8[None, :])
    expected = np.array([np.flatnonzero(row == row.min()).max() for row in distance])  # ties go up
    got = np.asarray(q.encode(levels / 255.0))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(np.asarray(q.decode(got)) * 255.0, centres8[expected], atol=1e-4)
    assert got[128] == q.neutral_bin == 16 and abs(float(q.decode(16)) - 128 / 255) < 1e-7
    np.testing.assert_allclose(q.centers * 255.0, centres8, atol=1e-4)


def test_out_of_range_values_clip_to_the_end_bins() -> None:
    q = NeutralCenteredQuantizer(32)
    np.testing.assert_array_equal(np.asarray(q.encode([-0.5, 0.0, 1.0, 7.0])), [0, 0, 31, 31])


@pytest.mark.parametrize("bad", [0, 1, 3, 24, 512, 2.0, True])
def test_bin_counts_without_a_neutral_centre_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="NeutralCenteredQuantizer"):
        NeutralCenteredQuantizer(bad)
