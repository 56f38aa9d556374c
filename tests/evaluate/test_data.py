"""The evaluation photos: a folder in sorted order with bad files reported in place, the central-square
frame, FID's held-out photos after the evaluated ones, and a TFDS split (mocked) with index names."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common.evaluate.data import take, to_frame
from tests.evaluate.conftest import write_photos


def test_frame_is_the_central_square_area_resized():
    rgb = np.random.default_rng(0).integers(0, 256, (6, 10, 3)).astype(np.uint8)
    centre = rgb[:, 2:8].astype(np.float64)  # 6x6 central square
    expected = centre.reshape(3, 2, 3, 2, 3).mean((1, 3))  # 2x2 block means
    np.testing.assert_array_equal(to_frame(rgb, 3), np.round(expected).astype(np.uint8))


def test_folder_order_bad_files_and_held_out(tmp_path):
    write_photos(tmp_path / "album", 4)
    (tmp_path / "album" / "p01b.jpg").write_bytes(b"")
    images, held, problems = take(str(tmp_path / "album"), 2, 16, reference=5)
    assert [x.name for x in images] == ["album/p00", "album/p01"]
    assert [x.name for x in held] == ["album/p02", "album/p03"]  # the bad file in between is skipped
    assert len(problems) == 1 and "p01b.jpg" in problems[0] and "empty" in problems[0]
    assert images[0].rgb.shape == (16, 16, 3) and images[0].rgb.dtype == np.uint8
    with pytest.raises(ValueError, match="--data=.*neither a folder"):
        take(str(tmp_path / "missing"), 1, 16)


def test_tfds_split_names_records_by_index(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3):
        images, held, problems = take("cifar10:test", 2, 16, reference=1, data_dir=str(tmp_path))
    assert [x.name for x in images + held] == [
        "cifar10/test/000000",
        "cifar10/test/000001",
        "cifar10/test/000002",
    ]
    assert problems == [] and images[0].rgb.shape == (16, 16, 3)
    assert tf.reduce_any(images[0].rgb != images[1].rgb)
