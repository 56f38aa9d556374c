"""README's ColTran recipe end to end: train the three tiny configs with the generic trainer, load each
run's checkpoint for inference, colorize a real non-square photo at its own size."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from coltran.pipeline import colorize
from common.color import rgb_to_gray_np
from common.data import bundled_photos
from common.train import inputs, load_config, load_for_inference, train

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGES = ("coltran_core", "coltran_color_upsampler", "coltran_spatial_upsampler")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """stage -> model loaded from its run's workdir after 2 training steps of its tiny config."""
    models = {}
    for stage in STAGES:
        config = load_config(os.path.join(REPO, "configs", f"{stage}.py:tiny"))
        config.train.num_steps = 2
        config.train.steps_per_call = 1
        config.train.checkpoint_every = 2
        config.train.image_summary_every = 2  # sample previews: the upsamplers need their conditioning
        workdir = str(tmp_path_factory.mktemp(stage))
        fn = inputs.make_dataset_fn(
            config, split=config.data.train_split, training=True, batch_size=config.train.batch_size
        )
        result = train(config, workdir, dataset_fn=fn, preview_batch=inputs.preview_batch(config, 2))
        assert result.step == 2
        assert os.listdir(os.path.join(workdir, "train"))  # TensorBoard events with the previews
        models[stage] = load_for_inference(config, workdir)
    return models


def test_trained_tiny_stages_colorize_a_photo_at_its_own_size(trained) -> None:
    name, photo = next(p for p in bundled_photos() if "coffee" in p[0])
    photo = np.asarray(Image.fromarray(photo).resize((90, 60), Image.BOX))  # 3:2 landscape
    out = colorize(photo, *(trained[s] for s in STAGES), num_samples=2, seed=3)
    assert out.images.shape == (2, 60, 90, 3) and out.images.dtype == np.uint8
    y_in = rgb_to_gray_np(photo / 255.0)[..., 0] * 255
    for image in out.images:
        np.testing.assert_allclose(rgb_to_gray_np(image / 255.0)[..., 0] * 255, y_in, atol=0.51)
    r = trained["coltran_core"].resolution
    assert out.uncertainty.shape == (2, r, r)
    assert np.all((out.uncertainty > 0) & (out.uncertainty <= 1))
    again = colorize(photo, *(trained[s] for s in STAGES), num_samples=2, seed=3)
    np.testing.assert_array_equal(again.images, out.images)  # a seed fixes the colourings
