"""The authors' own ColTran code, run at small widths (tests/data/coltran_authors/README.md), against ours.

Their checkpoints import through `colorize-import-coltran`'s library function; our models then give
their logits to 1e-5 and their argmax samples exactly (the core with their sampling context, by both of
our samplers), and the mapping covers every variable of their models at the released configs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from ml_collections import ConfigDict

from coltran import import_authors as ia
from common.train import load_for_inference, named_variables

DATA = Path(__file__).resolve().parents[1] / "data" / "coltran_authors"
LOW_RES = 16  # the spatial fixture's conditioning is already at its 16x16 output size


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict:
    """The three fixture checkpoints through `import_all` (what the command line runs), then loaded as
    every tool loads a work directory."""
    out = tmp_path_factory.mktemp("imported")
    written = ia.import_all(str(DATA), str(out), low_resolution=LOW_RES)
    assert sorted(written) == ["coltran_color_upsampler", "coltran_core", "coltran_spatial_upsampler"]
    models = {}
    for name in written:
        config = ConfigDict(json.loads((out / name / "config.json").read_text()))
        models[name] = load_for_inference(config, str(out / name))
    return models


def _io(component: str) -> dict:
    return dict(np.load(DATA / component / "io.npz"))


def _gray(levels: np.ndarray) -> tf.Tensor:
    return tf.constant(levels[..., None] / 255.0, tf.float32)


def test_core_logits_match_the_authors(imported):
    core, io = imported["coltran_core"], _io("colorizer")
    assert core.row_context_sampling  # written into the imported config
    dec, enc = core.logits(tf.constant(io["gray"]), tf.constant(io["symbols"]))
    np.testing.assert_allclose(dec.numpy(), io["logits"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(enc.numpy(), io["encoder_logits"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", ["naive", "fast"])
def test_core_argmax_samples_match_the_authors_sampler(imported, method):
    core, io = imported["coltran_core"], _io("colorizer")
    out = core.sample(_gray(io["gray"]), temperature=0.0, method=method, jit_compile=False)
    np.testing.assert_array_equal(out["symbols"].numpy()[:, 0], io["argmax_symbols"])
    # Their per-pixel probabilities: the uncertainty map is the highest of them.
    np.testing.assert_allclose(
        out["uncertainty"].numpy()[:, 0], io["argmax_proba"].max(-1), atol=1e-5, rtol=0
    )
    # Teacher forcing on their argmax image with the row context gives all their probabilities.
    z = core.encode(tf.constant(io["gray"]))
    probs = tf.nn.softmax(core.decode(z, tf.constant(io["argmax_symbols"]), row_context=True))
    np.testing.assert_allclose(probs.numpy(), io["argmax_proba"], atol=1e-5, rtol=0)


def test_the_authors_sampling_context_is_not_the_training_one(imported):
    """The fixture tells the two contexts apart: all of z pooled gives other probabilities."""
    core, io = imported["coltran_core"], _io("colorizer")
    z = core.encode(tf.constant(io["gray"]))
    probs = tf.nn.softmax(core.decode(z, tf.constant(io["argmax_symbols"]), row_context=False)).numpy()
    assert np.abs(probs - io["argmax_proba"]).max() > 1e-3


def test_color_upsampler_matches_the_authors(imported):
    model, io = imported["coltran_color_upsampler"], _io("color_upsampler")
    gray, coarse = _gray(io["gray"]), tf.constant(io["coarse"])
    np.testing.assert_allclose(
        model({"gray": gray, "coarse": coarse}).numpy(), io["logits"], atol=1e-5, rtol=0
    )
    out = model.sample(gray, coarse=coarse, temperature=0.0)
    np.testing.assert_array_equal(out["labels"].numpy()[:, 0], io["argmax"])


def test_spatial_upsampler_matches_the_authors(imported):
    model, io = imported["coltran_spatial_upsampler"], _io("spatial_upsampler")
    gray, low = _gray(io["gray"]), tf.constant(io["low_res"])
    np.testing.assert_allclose(model({"gray": gray, "low_res": low}).numpy(), io["logits"], atol=1e-5, rtol=0)
    out = model.sample(gray, low_res=low, temperature=0.0)
    np.testing.assert_array_equal(out["labels"].numpy()[:, 0], io["argmax"])


def _manifest(component: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Zero values (ones for their fixed LayerNorm gains) of every variable in the released-config
    manifest, canonicalised as the importer reads a checkpoint."""
    shapes, ema = {}, set()
    for line in (DATA / f"manifest_{component}.txt").read_text().splitlines():
        if line.startswith("#"):
            continue
        name, shape, kind = line.split("\t")
        if kind == "ema":
            ema.add(name.replace("/ExponentialMovingAverage:0", ":0"))
        else:
            shapes[name] = json.loads(shape)
    canon = ia.canonical_names(sorted(shapes))
    values = {
        canon[n]: np.full(s, 1.0 if n.endswith("normalize/gamma:0") else 0.0, np.float32)
        for n, s in shapes.items()
    }
    return values, {canon[n]: "ema" if n in ema else "raw" for n in shapes}


@pytest.mark.parametrize("component", sorted(ia.COMPONENTS))
def test_mapping_covers_the_released_models_completely(component):
    """Every variable of their model at the released config has a rule and every one of ours is filled,
    with matching shapes (`convert` raises otherwise)."""
    from common import registry
    from common.train import load_config

    values, kinds = _manifest(component)
    assert ia.infer_model_kwargs(component, values) == {
        k: v
        for k, v in load_config(f"configs/{ia.COMPONENTS[component]}.py").model.items()
        if k in ia.infer_model_kwargs(component, values)
    }
    config = load_config(f"configs/{ia.COMPONENTS[component]}.py")
    if component == "spatial_upsampler":
        from coltran.upsampler import SpatialUpsampler  # built without a forward pass at 256x256

        model = SpatialUpsampler(**{k: v for k, v in config.model.items() if k != "name"})
    else:
        model = registry.build_model(config)
    converted = ia.convert(component, values, kinds, model)
    assert set(converted) == set(named_variables(model))
    # Same parameter count as theirs, less what ours folds: the core's gray-embedding bias (into the
    # table); the upsamplers' concat -> Dense (into the two embedding tables).
    theirs = sum(v.size for n, v in values.items() if kinds[n] == "ema")
    d = config.model.hidden_size
    folded = d if component == "colorizer" else 2 * d * d + d
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == theirs - folded


def test_import_errors_name_what_is_wrong():
    values, kinds = _manifest("color_upsampler")
    from coltran.upsampler import ColorUpsampler
    from common.train import load_config

    model = ColorUpsampler(
        **{k: v for k, v in load_config("configs/coltran_color_upsampler.py").model.items() if k != "name"}
    )
    gone = "color_upsampler#0/dense#3/bias"
    with pytest.raises(ia.AuthorsCheckpointError, match=re.escape(gone)):
        ia.convert("color_upsampler", {k: v for k, v in values.items() if k != gone}, kinds, model)
    bad = dict(values, **{"color_upsampler#0/dense#3/kernel": np.zeros([512, 255], np.float32)})
    with pytest.raises(ia.AuthorsCheckpointError, match="mis-shaped: final_dense/kernel"):
        ia.convert("color_upsampler", bad, kinds, model)
    extra = dict(values, **{"color_upsampler#0/surprise": np.zeros([1], np.float32)})
    with pytest.raises(ia.AuthorsCheckpointError, match="unexpected in their checkpoint: .*surprise"):
        ia.convert("color_upsampler", extra, kinds, model)
    no_ema = dict(kinds, **{"color_upsampler#0/dense#3/bias": "raw"})
    with pytest.raises(ia.AuthorsCheckpointError, match="without an EMA value"):
        ia.convert("color_upsampler", values, no_ema, model)
    with pytest.raises(ia.AuthorsCheckpointError, match="holds none of the folders"):
        ia.import_all(str(DATA / "colorizer"), "/nonexistent")


def test_canonical_names_rank_auto_numbered_layers_per_parent():
    names = [
        "m_3/dense_7/kernel:0",
        "m_3/dense/kernel:0",
        "dense_12/bias:0",
        "dense_40/bias:0",
        "m_3/unmask_row_att_1/q/kernel:0",
    ]
    assert ia.canonical_names(names) == {
        "m_3/dense_7/kernel:0": "m_3/dense#1/kernel",  # "m_3" is not a Keras auto-name: kept as is
        "m_3/dense/kernel:0": "m_3/dense#0/kernel",
        "dense_12/bias:0": "dense#0/bias",
        "dense_40/bias:0": "dense#1/bias",
        "m_3/unmask_row_att_1/q/kernel:0": "m_3/unmask_row_att_1/q/kernel",
    }
