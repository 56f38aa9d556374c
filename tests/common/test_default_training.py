"""What the embedded default models are trained with: the photo set's preparation, the training
augmentation (random same-aspect crops, flips) and the slim work directories they ship as."""

from __future__ import annotations

import json
import os

import ml_collections
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common.data import default_photos
from common.data.pipeline import augment_image, build_dataset
from common.train import load_config, load_for_inference, train
from common.train.inputs import make_dataset_fn
from common.train.slim import slim_workdir

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _image(h: int = 60, w: int = 90) -> tf.Tensor:
    return tf.constant(np.arange(h * w * 3).reshape(h, w, 3) % 251, tf.uint8)


def test_augment_crops_keep_aspect_and_scale_range_and_replay_from_the_seed():
    img = _image()
    sizes, flipped = set(), 0
    for i in range(40):
        seed = tf.constant([3, i], tf.int64)
        out = augment_image(img, seed, 0.5, True)
        again = augment_image(img, seed, 0.5, True)
        np.testing.assert_array_equal(out.numpy(), again.numpy())  # the seed replays it (resume)
        h, w = out.shape[:2]
        assert 30 <= h <= 60 and 45 <= w <= 90 and abs(w / h - 1.5) < 0.06, (h, w)
        sizes.add((h, w))
        # the crop is a window of the image or of its mirror
        full = img.numpy()
        found = any(
            (src[y : y + h, x : x + w] == out.numpy()).all()
            for src in (full, full[:, ::-1])
            for y in range(60 - h + 1)
            for x in range(90 - w + 1)
        )
        assert found
        flipped += int(not any((full[y : y + h, x : x + w] == out.numpy()).all()
                               for y in range(60 - h + 1) for x in range(90 - w + 1)))
    assert len(sizes) > 5  # scales vary
    assert 8 <= flipped <= 32  # about half mirrored


def test_augment_is_off_by_default_and_never_at_evaluation():
    c = load_config(os.path.join(REPO, "configs/coltran_core.py:tiny"))
    shapes = lambda ex, training: {"hw": tf.shape(ex["image"])[:2]}  # noqa: E731

    def first_batch(training: bool) -> dict[str, tf.Tensor]:
        ds = build_dataset(c.data, split="train", preprocess_fn=shapes, batch_size=4, training=training)
        return next(iter(ds))

    plain = first_batch(True)
    c.data.crop_min_scale = 0.3
    aug = first_batch(True)
    ev = first_batch(False)
    full = {tuple(hw) for hw in ev["hw"].numpy()}
    assert {tuple(hw) for hw in plain["hw"].numpy()} <= full
    assert not {tuple(hw) for hw in aug["hw"].numpy()} <= full  # cropped in training
    assert full <= {(512, 512), (300, 451), (400, 600), (427, 640)}  # the bundled photos, uncropped


def _fake_root(root: str) -> None:
    for rel in default_photos.TRAIN_WALLPAPERS + default_photos.HELDOUT_WALLPAPERS:
        if rel.startswith("usr/share/wallpapers"):
            d = os.path.join(root, rel, "contents", "images")
            os.makedirs(d, exist_ok=True)
            Image.new("RGB", (100, 80), "red").save(os.path.join(d, "100x80.jpg"))
            Image.new("RGB", (40, 90), "blue").save(os.path.join(d, "40x90.jpg"))  # portrait: not chosen
            Image.new("RGB", (900, 600), "green").save(os.path.join(d, "900x600.png"))  # the largest
        else:
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            Image.new("RGB", (1000, 500), "white").save(os.path.join(root, rel), "JPEG")


def test_prepare_writes_disjoint_train_and_heldout_sets(tmp_path):
    pytest.importorskip("skimage")
    _fake_root(str(tmp_path / "root"))
    counts = default_photos.prepare(str(tmp_path / "root"), str(tmp_path / "out"), max_side=300)
    train_files = set(os.listdir(tmp_path / "out" / "train"))
    held = set(os.listdir(tmp_path / "out" / "heldout"))
    assert counts == {"train": len(train_files), "heldout": len(held)} == {"train": 33, "heldout": 8}
    assert not train_files & held
    assert {"astronaut.png", "chelsea.png", "coffee.png", "rocket.png"} <= held  # README's demo photos
    for split, names in (("train", train_files), ("heldout", held)):
        for n in names:
            with Image.open(tmp_path / "out" / split / n) as im:
                assert max(im.size) <= 300 and im.mode == "RGB", (n, im.size)
    with Image.open(tmp_path / "out" / "train" / "Kite.png") as im:
        assert im.size == (300, 200) and im.getpixel((5, 5)) == (0, 128, 0)  # the 900x600 file, shrunk


def test_prepare_names_a_missing_photo(tmp_path):
    _fake_root(str(tmp_path / "root"))
    os.remove(tmp_path / "root" / default_photos.TRAIN_WALLPAPERS[0])
    with pytest.raises(FileNotFoundError, match="Bridge_by_Sander_Klootwijk"):
        default_photos.sources(str(tmp_path / "root"))


def test_slim_workdir_keeps_the_ema_weights_only(tmp_path):
    c = load_config(os.path.join(REPO, "configs/toy.py:tiny"))
    c.train.num_steps = 3
    c.train.checkpoint_every = 3
    work = str(tmp_path / "run")
    fn = make_dataset_fn(c, split=c.data.train_split, training=True, batch_size=c.train.batch_size)
    train(c, work, dataset_fn=fn)
    ema_model = load_for_inference(c, work, use_ema=True)
    raw_model = load_for_inference(c, work, use_ema=False)
    prefix = slim_workdir(work, str(tmp_path / "slim"))
    assert prefix.endswith("ckpt-3")
    with open(tmp_path / "slim" / "config.json") as f:
        sc = ml_collections.ConfigDict(json.load(f))
    slim = load_for_inference(sc, str(tmp_path / "slim"))
    differ = False
    for a, b, r in zip(slim.weights, ema_model.weights, raw_model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        differ |= not np.array_equal(a.numpy(), r.numpy())
    assert differ  # the EMA weights were shipped, not the raw ones

    def size(d: str) -> int:
        return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))

    full, small = size(os.path.join(work, "checkpoints")), size(str(tmp_path / "slim" / "checkpoints"))
    assert small < full / 2
