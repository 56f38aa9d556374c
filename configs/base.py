"""Defaults shared by every model config; each `configs/<model>.py` derives from `base_config()`.

Sections:
  model: `name` (a key of `common.registry.MODELS`) plus the model's constructor arguments.
  data:  where images come from and how batches are formed (read by `common.data`).
  train: optimiser, schedule, steps, checkpointing, EMA (read by the trainer).
  eval:  evaluation split and size.
"""

from __future__ import annotations

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()

    c.model = ml_collections.ConfigDict()
    c.model.name = ""

    c.data = ml_collections.ConfigDict()
    c.data.source = "tfds"  # "tfds" | "folder" | "bundled" (the package's 4 photos) | "system_photos"
    c.data.tfds_name = "imagenet2012"
    c.data.data_dir = ""  # TFDS data_dir; "" = TFDS default
    c.data.folder = ""  # root of a folder of images when source == "folder"
    c.data.train_split = "train[:-10000]"  # ColTran: the last 10k training images are held out
    c.data.eval_split = "train[-10000:]"
    c.data.shuffle_buffer = 10_000
    c.data.colorness_threshold = -1.0  # < 0 disables the near-grayscale filter
    # Training augmentation before the model's preprocessing (common/data/pipeline.augment_image): a crop
    # of the same aspect ratio, its sides a fraction in [crop_min_scale, 1] of the photo's; left-right flips.
    c.data.crop_min_scale = 1.0  # 1 = off (the papers crop in the model's preprocessing only)
    c.data.random_flip = False

    c.train = ml_collections.ConfigDict()
    # The global batch of one OPTIMISER step: split over the replicas, and on each replica into
    # grad_accum_steps micro-batches whose gradients are summed before the one update (so the paper's
    # global batch is kept on fewer / smaller devices). Must divide by replicas * grad_accum_steps.
    c.train.batch_size = 8
    c.train.grad_accum_steps = 1  # micro-batches per optimiser step (1 = no accumulation)
    # "" (float32) | "mixed_bfloat16" (TPUs, CPUs with AMX) | "mixed_float16" (GPUs; dynamic loss scaling).
    # Variables, EMA, checkpoints, logits and losses stay float32, so checkpoints are interchangeable; the
    # policy applies wherever the model is built from this config (override with "" to evaluate in float32).
    c.train.mixed_precision = ""
    c.train.num_steps = 1000
    c.train.steps_per_call = 1  # training steps inside one tf.function call
    c.train.optimizer = "adam"  # "adam" | "rmsprop"
    c.train.learning_rate = 1e-3
    c.train.lr_schedule = "constant"  # "constant" | "exponential" (per-step multiplicative decay)
    c.train.lr_decay = 1.0  # per-step multiplier for "exponential"
    c.train.warmup_steps = 0
    c.train.beta1 = 0.9
    c.train.beta2 = 0.999
    c.train.epsilon = 1e-7
    c.train.grad_clip_norm = 0.0  # 0 = no clipping
    c.train.ema_decay = 0.0  # 0 = no EMA / Polyak averaging
    c.train.checkpoint_every = 1000
    c.train.keep_checkpoints = 3
    c.train.log_every = 50
    c.train.image_summary_every = 0  # 0 = never write sample images
    c.train.seed = 0

    c.eval = ml_collections.ConfigDict()
    c.eval.batch_size = 8
    c.eval.num_batches = 0  # 0 = the whole split

    return c
