"""pic/import_authors.py against checkpoints and outputs made by the PIC authors' own code
(tests/data/pic_authors/README.md says how), and against the variable manifests of their paper-size graphs."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from common import logistic_mixture as lm
from common.train import named_variables
from pic import import_authors as ia
from pic.model import PICColorizer

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "pic_authors")
VARIANTS = {"cifar": 8, "imagenet": 16}  # the fixture's image side


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def imported(request):
    variant = request.param
    prefix = os.path.join(DATA, variant, "model.ckpt")
    model, config, ema = ia.build_imported(prefix, resolution=VARIANTS[variant])
    return variant, model, config, ema, dict(np.load(os.path.join(DATA, variant, "io.npz")))


def _outputs(model: PICColorizer, io: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(f's params, embedding, nll of f, nll of the embedding head) on their inputs, through our code."""
    lum_full = io["x_clr"][..., :1]  # their normalised L, (L - 50) / 50
    gray = (lum_full + 1.0) / 2.0  # ours: L / 100
    canvas = model.canvas_and_targets((io["x"] + 1.0) / 2.0)[0]  # their RGB in [-1, 1], subsampled
    params, _ = model.networks(gray, canvas)
    emb = model.embedding(model.embedding_input(gray))
    # Their targets are not on the grid: score them as they are, with their normalised L.
    targets = io["targets"]
    nll = -tf.reduce_sum(lm.log_prob(params, targets[..., 1:], targets[..., :1]), axis=[1, 2])
    nll_emb = -tf.reduce_sum(
        lm.log_prob(model.embedding_params(emb), targets[..., 1:], targets[..., :1]), axis=[1, 2]
    )
    return params.numpy(), emb.numpy(), nll.numpy(), nll_emb.numpy()


def test_their_downsampling_is_our_subsampling(imported):
    _, model, _, _, io = imported
    d = model.downsample
    np.testing.assert_array_equal(io["canvas"], io["x"][:, ::d, ::d])
    np.testing.assert_array_equal(io["targets"], io["x_clr"][:, ::d, ::d])
    canvas = model.canvas_and_targets((io["x"] + 1.0) / 2.0)[0].numpy()
    np.testing.assert_allclose(canvas, io["canvas"], atol=1e-6)


def test_raw_weights_give_their_outputs(imported):
    variant, model, config, _, io = imported
    assert config.model.downsample == (2 if variant == "cifar" else 4)
    params, emb, nll, nll_emb = _outputs(model, io)
    np.testing.assert_allclose(params, io["params_raw"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(emb, io["embedding_raw"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(nll, io["nll_raw"], rtol=1e-5)
    np.testing.assert_allclose(nll_emb, io["nll_embedding_raw"], rtol=1e-5)


def test_their_averages_give_their_averaged_outputs(imported):
    _, model, _, ema, io = imported
    named = named_variables(model)
    saved = {p: v.numpy() for p, v in named.items()}
    try:
        for p, value in ema.items():
            named[p].assign(value)
        params, emb, nll, nll_emb = _outputs(model, io)
    finally:
        for p, value in saved.items():
            named[p].assign(value)
    assert np.abs(io["params_ema"] - io["params_raw"]).max() > 1e-2  # the fixture tells them apart
    np.testing.assert_allclose(params, io["params_ema"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(emb, io["embedding_ema"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(nll, io["nll_ema"], rtol=1e-5)
    np.testing.assert_allclose(nll_emb, io["nll_embedding_ema"], rtol=1e-5)


def test_import_writes_a_work_directory_load_for_inference_reads(imported, tmp_path):
    import json

    from ml_collections import ConfigDict

    from common.train import load_for_inference

    variant, model, _, _, io = imported
    prefix = os.path.join(DATA, variant, "model.ckpt")
    ia.import_checkpoint(prefix, str(tmp_path), resolution=VARIANTS[variant])
    config = ConfigDict(json.loads((tmp_path / "config.json").read_text()))
    loaded = load_for_inference(config, str(tmp_path))  # the averages, as their sampling uses
    np.testing.assert_allclose(_outputs(loaded, io)[0], io["params_ema"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("variant", ["cifar", "imagenet"])
def test_paper_models_have_exactly_their_variables(variant):
    """Our paper-size models (configs/pic.py) against the manifest of the variables their main.py
    creates with the README's flags (-c 160 -l 4, 10 logistics): names and shapes, averages included."""
    from common import registry
    from configs.pic import get_config

    theirs = {}
    for line in open(os.path.join(DATA, f"manifest_{variant}.txt")):
        name, shape = line.rstrip("\n").split("\t")
        theirs[name] = tuple(int(s) for s in shape.strip("[]").split(",") if s.strip())
    raw = {ia.our_path(n): s for n, s in theirs.items() if not n.endswith(ia.EMA_SUFFIX)}
    averaged = {ia.our_path(n[: -len(ia.EMA_SUFFIX)]) for n in theirs if n.endswith(ia.EMA_SUFFIX)}
    config = get_config(variant)
    config.model.resolution = 4 * config.model.downsample  # the weights do not depend on the image size
    model = registry.build_model(config)
    ours = {p: tuple(v.shape) for p, v in named_variables(model).items() if v.trainable}
    assert ours == raw
    assert averaged == set(ours)
    assert ia.infer_model_kwargs({p: np.zeros(s) for p, s in raw.items()}) == {
        k: config.model[k] if k != "resolution" else ia.VARIANTS[variant]["resolution"]
        for k in ia.infer_model_kwargs({p: np.zeros(s) for p, s in raw.items()})
    }


def test_a_foreign_checkpoint_is_a_clear_error(tmp_path):
    v = tf.Variable(np.zeros(3, np.float32))
    prefix = tf.train.Checkpoint(v=v).write(str(tmp_path / "other"))
    with pytest.raises(ia.AuthorsCheckpointError, match="no PIC model has"):
        ia.read_authors_checkpoint(prefix)
    with pytest.raises(ia.AuthorsCheckpointError, match="no TF checkpoint"):
        ia.read_authors_checkpoint(str(tmp_path / "nothing"))
