"""common/data/pipeline.py: build_dataset over folder, bundled and (mocked) TFDS sources."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from common.data import build_dataset, preprocess, sources
from configs.base import base_config

NUM_COLOUR, NUM_GRAY = 7, 3


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory) -> str:
    """7 small colour images (two in a subfolder) and 3 gray ones, of varied sizes."""
    root = tmp_path_factory.mktemp("pipeline")
    os.makedirs(root / "sub")
    rng = np.random.default_rng(0)
    for i in range(NUM_COLOUR):
        image = rng.integers(0, 256, (6 + i, 9 - i % 3, 3)).astype(np.uint8)
        Image.fromarray(image).save(root / ("sub" if i >= 5 else "") / f"colour{i}.png")
    for i in range(NUM_GRAY):
        gray = rng.integers(0, 256, (7, 7)).astype(np.uint8)
        Image.fromarray(np.repeat(gray[..., None], 3, axis=-1)).save(root / f"gray{i}.png")
    return str(root)


def folder_cfg(folder: str, threshold: float = -1.0):
    cfg = base_config().data
    cfg.source = "folder"
    cfg.folder = folder
    cfg.colorness_threshold = threshold
    return cfg


def model_preprocess(example: dict[str, tf.Tensor], training: bool) -> dict[str, tf.Tensor]:
    """What a model's preprocess looks like: crop (random in training), area resize to 4x4, [0, 1]."""
    if training:
        crop_seed, flip_seed = tf.unstack(preprocess.split_seed(example["seed"], 2))
        image = preprocess.random_square_crop(example["image"], crop_seed)
        image = preprocess.random_flip_left_right(image, flip_seed)
    else:
        image = preprocess.central_square_crop(example["image"])
    rgb = preprocess.resize_area(image, 4) / 255.0
    return {"rgb": rgb, "gray": preprocess.to_gray(rgb), "name": example["name"], "seed": example["seed"]}


def names_of(ds: tf.data.Dataset) -> list[str]:
    return [n.decode() for batch in ds.as_numpy_iterator() for n in batch["name"]]


def take(ds: tf.data.Dataset, n: int) -> list[dict]:
    return list(ds.take(n).as_numpy_iterator())


def all_names(image_dir: str) -> list[str]:
    colour = [f"colour{i}.png" for i in range(5)] + [f"sub/colour{i}.png" for i in (5, 6)]
    return sorted(colour + [f"gray{i}.png" for i in range(NUM_GRAY)])


def test_eval_is_one_ordered_pass_with_partial_batch(image_dir):
    ds = build_dataset(
        folder_cfg(image_dir), split="test", preprocess_fn=model_preprocess, batch_size=4, training=False
    )
    batches = list(ds.as_numpy_iterator())
    assert [len(b["name"]) for b in batches] == [4, 4, 2]
    assert names_of(ds) == all_names(image_dir)
    first = batches[0]
    assert first["rgb"].shape == (4, 4, 4, 3) and first["rgb"].dtype == np.float32
    assert first["gray"].shape == (4, 4, 4, 1)
    assert 0.0 <= first["rgb"].min() and first["rgb"].max() <= 1.0
    # Centre crop + area resize of the first file, computed directly.
    image = np.asarray(Image.open(os.path.join(image_dir, "colour0.png")))
    expected = preprocess.resize_area(preprocess.central_square_crop(image), 4).numpy() / 255.0
    np.testing.assert_allclose(first["rgb"][0], expected, atol=1e-6)


def test_training_repeats_drops_remainder_and_replays_for_a_seed(image_dir):
    cfg = folder_cfg(image_dir)

    def build(seed: int) -> tf.data.Dataset:
        return build_dataset(
            cfg, split="train", preprocess_fn=model_preprocess, batch_size=4, training=True, seed=seed
        )

    ds = build(seed=1)
    assert ds.element_spec["rgb"].shape == (4, 4, 4, 3)  # drop_remainder: static batch size
    run1, run2, other = take(ds, 6), take(build(seed=1), 6), take(build(seed=2), 6)
    names1 = [n.decode() for b in run1 for n in b["name"]]
    assert len(names1) == 24  # more than the 10 files: repeats
    # Every epoch is a permutation of all the files.
    assert sorted(names1[:10]) == all_names(image_dir) and sorted(names1[10:20]) == all_names(image_dir)
    assert names1[:10] != names1[10:20]
    for a, b in zip(run1, run2, strict=True):  # same seed: same order, same crops and flips
        np.testing.assert_array_equal(a["name"], b["name"])
        np.testing.assert_array_equal(a["rgb"], b["rgb"])
    assert [n.decode() for b in other for n in b["name"]] != names1
    seeds = np.concatenate([b["seed"] for b in run1])
    assert len({tuple(s) for s in seeds}) == 24  # one distinct preprocessing seed per example


def test_input_context_shards_are_disjoint_and_cover(image_dir):
    cfg = folder_cfg(image_dir)
    shards = []
    for pipeline_id in range(3):
        ctx = tf.distribute.InputContext(
            num_input_pipelines=3, input_pipeline_id=pipeline_id, num_replicas_in_sync=6
        )
        per_replica = ctx.get_per_replica_batch_size(12)
        assert per_replica == 2
        ds = build_dataset(
            cfg,
            split="train",
            preprocess_fn=model_preprocess,
            batch_size=per_replica,
            training=False,
            input_context=ctx,
        )
        assert (
            ds.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.OFF
        )
        shards.append(names_of(ds))
    flat = [n for s in shards for n in s]
    assert sorted(flat) == all_names(image_dir) and len(set(flat)) == len(flat)
    assert all(shards)


def test_training_shards_differ_in_seeds(image_dir):
    cfg = folder_cfg(image_dir)
    seeds = []
    for pipeline_id in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id)
        ds = build_dataset(
            cfg, split="train", preprocess_fn=model_preprocess, batch_size=2, training=True, input_context=ctx
        )
        seeds.append({tuple(s) for b in take(ds, 3) for s in b["seed"]})
    assert not seeds[0] & seeds[1]


def test_colorness_filter_drops_gray_keeps_colour(image_dir):
    ds = build_dataset(
        folder_cfg(image_dir, threshold=0.05),
        split="train",
        preprocess_fn=model_preprocess,
        batch_size=3,
        training=False,
    )
    names = names_of(ds)
    assert names == [n for n in all_names(image_dir) if "colour" in n]
    # In training too: many epochs and never a gray image.
    ds = build_dataset(
        folder_cfg(image_dir, threshold=0.05),
        split="train",
        preprocess_fn=model_preprocess,
        batch_size=3,
        training=True,
    )
    seen = {n.decode() for b in take(ds, 8) for n in b["name"]}
    assert seen == set(names)


def test_tfds_source_mocked_training_batches(tmp_path):
    cfg = base_config().data
    cfg.tfds_name = "cifar10"
    cfg.data_dir = str(tmp_path)
    cfg.shuffle_buffer = 8
    with tfds.testing.mock_data(num_examples=5):
        ds = build_dataset(cfg, split="train", preprocess_fn=model_preprocess, batch_size=4, training=True)
        batches = take(ds, 3)
        eval_ds = build_dataset(
            cfg, split="test", preprocess_fn=model_preprocess, batch_size=4, training=False
        )
        eval_sizes = [len(b["name"]) for b in eval_ds.as_numpy_iterator()]
    assert [b["rgb"].shape for b in batches] == [(4, 4, 4, 3)] * 3
    assert eval_sizes == [4, 1]


def test_bundled_source_eval():
    cfg = base_config().data
    cfg.source = "bundled"
    cfg.colorness_threshold = 0.05  # real photos are colourful: none dropped
    ds = build_dataset(cfg, split="train", preprocess_fn=model_preprocess, batch_size=5, training=False)
    (batch,) = list(ds.as_numpy_iterator())
    assert batch["rgb"].shape == (4, 4, 4, 3)  # exactly the package's four colour photos
    assert [n.decode() for n in batch["name"]] == ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"]


def test_config_errors(image_dir):
    cfg = folder_cfg(image_dir)
    with pytest.raises(ValueError, match="batch_size"):
        build_dataset(cfg, split="train", preprocess_fn=model_preprocess, batch_size=0, training=True)
    cfg.source = "webdataset"
    with pytest.raises(ValueError, match="data.source 'webdataset'"):
        build_dataset(cfg, split="train", preprocess_fn=model_preprocess, batch_size=2, training=True)
    cfg = folder_cfg("")
    with pytest.raises(ValueError, match="data.folder is empty"):
        build_dataset(cfg, split="train", preprocess_fn=model_preprocess, batch_size=2, training=True)


def test_training_resumes_from_a_checkpointed_iterator(image_dir, tmp_path):
    cfg = folder_cfg(image_dir)

    def build() -> tf.data.Dataset:
        return build_dataset(
            cfg, split="train", preprocess_fn=model_preprocess, batch_size=3, training=True, seed=5
        )

    it = iter(build())
    for _ in range(4):  # past the first epoch of 10 files
        next(it)
    path = tf.train.Checkpoint(iterator=it).save(str(tmp_path / "it"))
    expected = [next(it) for _ in range(3)]
    resumed = iter(build())
    tf.train.Checkpoint(iterator=resumed).restore(path).assert_consumed()
    for want in expected:
        got = next(resumed)
        np.testing.assert_array_equal(got["name"], want["name"])
        np.testing.assert_array_equal(got["rgb"], want["rgb"])
    # Replaying a fresh pipeline with the same seed gives the same continuation too.
    replay = take(build().skip(4), 3)
    for want, got in zip(expected, replay, strict=True):
        np.testing.assert_array_equal(got["rgb"], want["rgb"])


def _counting_decodes(monkeypatch) -> list[int]:
    """Counts the folder source's file decodes (the expensive part a resume must not repeat)."""
    calls = []
    decode = sources.decode_image_file

    def counting(path: str):
        calls.append(1)
        return decode(path)

    monkeypatch.setattr(sources, "decode_image_file", counting)
    return calls


def test_skip_examples_continues_the_stream_without_decoding_the_skipped(image_dir, monkeypatch):
    cfg = folder_cfg(image_dir)

    def build(skip: int) -> tf.data.Dataset:
        return build_dataset(
            cfg,
            split="train",
            preprocess_fn=model_preprocess,
            batch_size=3,
            training=True,
            seed=5,
            skip_examples=skip,
        )

    full = take(build(0), 40)  # 120 examples: 12 epochs of the 10 files
    for skip_batches in (1, 4, 37):  # within the first epoch, past it, many epochs on
        resumed = take(build(3 * skip_batches), 3)
        for want, got in zip(full[skip_batches : skip_batches + 3], resumed, strict=True):
            np.testing.assert_array_equal(got["name"], want["name"])
            np.testing.assert_array_equal(got["seed"], want["seed"])
            np.testing.assert_array_equal(got["rgb"], want["rgb"])  # same random crops and flips
    calls = _counting_decodes(monkeypatch)
    take(build(30_000), 2)  # 3,000 epochs in
    assert 0 < len(calls) < 200, len(calls)  # what the 2 batches (and prefetching) need, not 30,000


def test_tfds_skip_examples_continues_the_stream(tmp_path):
    cfg = base_config().data
    cfg.tfds_name, cfg.data_dir, cfg.shuffle_buffer = "cifar10", str(tmp_path), 4

    def build(skip: int) -> list[dict]:
        return take(
            build_dataset(
                cfg,
                split="train",
                preprocess_fn=model_preprocess,
                batch_size=2,
                training=True,
                seed=1,
                skip_examples=skip,
            ),
            4,
        )

    with tfds.testing.mock_data(num_examples=5):
        full = build(0) + build(8)
        resumed = build(6)
    for want, got in zip(full[3:7], resumed, strict=True):
        np.testing.assert_array_equal(got["seed"], want["seed"])
        np.testing.assert_array_equal(got["rgb"], want["rgb"])


def test_tilde_in_folder_and_data_dir_is_the_home_directory(image_dir, monkeypatch, tmp_path):
    home = tmp_path / "home"
    os.makedirs(home)
    os.symlink(image_dir, home / "photos")
    monkeypatch.setenv("HOME", str(home))
    cfg = folder_cfg("~/photos")
    ds = build_dataset(cfg, split="train", preprocess_fn=model_preprocess, batch_size=20, training=False)
    assert sorted(names_of(ds)) == all_names(image_dir)
    seen = {}

    def fake_tfds_source(name, split, *, data_dir, **kwargs):
        seen["data_dir"] = data_dir
        raise FileNotFoundError("stop here")

    monkeypatch.setattr(sources, "tfds_source", fake_tfds_source)
    cfg = base_config().data
    cfg.data_dir = "~/tensorflow_datasets"
    with pytest.raises(FileNotFoundError, match="stop here"):
        build_dataset(cfg, split="train", preprocess_fn=model_preprocess, batch_size=2, training=True)
    assert seen["data_dir"] == str(home / "tensorflow_datasets")
