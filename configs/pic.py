"""PIC: grayscale -> a mixture of logistics over the Lab chroma, autoregressive (Royer et al., BMVC 2017).

`get_config()` / `get_config("imagenet")`: the ILSVRC 2012 model; `get_config("cifar")`: the CIFAR-10 one;
`"tiny"` derives a small CPU variant of the ILSVRC one for tests; `"default"` a small model trainable on
this 2-core CPU in about 20 minutes. ":embedding_only" after "imagenet" or "cifar" gives the §4.3
ablation (f removed, g trained alone, MAP decoding).
Sources: "paper" = the BMVC paper (§3, §4, Table 1); "ref" = the authors' code, github ameroyer/PIC
(`main.py` flags, `models.py`, README training commands).
    colorize-train --config=configs/pic.py:cifar --workdir=...   # the paper's CIFAR-10 run (GPUs)
    colorize-train --config=configs/pic.py:tiny --workdir=...    # seconds on a CPU
"""

from __future__ import annotations

import ml_collections

from configs.base import base_config

VARIANTS = ("", "imagenet", "cifar", "tiny", "default", "imagenet:embedding_only", "cifar:embedding_only")


def _model(c: ml_collections.ConfigDict, dataset: str) -> None:
    m = c.model
    m.name = "pic"
    m.channels = 160  # paper §4.1/§4.2: 160 channels in every convolution of f; ref README -c 160
    m.num_blocks = 4  # paper §4.1/§4.2: 4 residual blocks; ref README -l 4
    m.num_mixtures = 10  # ref main.py --nr_logistic_mix default 10
    m.dropout = 0.5  # ref main.py --dropout default 0.5 (the README commands keep it)
    m.embedding_loss_weight = 1.0  # ref main.py: minimises bits_per_dim + bits_per_dim_embedding
    m.embedding_only = False
    m.jit_compile_sampler = False
    if dataset == "cifar":
        m.resolution = 32  # paper §4.1: CIFAR-10 32x32
        m.downsample = 2  # paper §4.1: chroma at 16x16; ref README --downsample 2
        m.embedding_channels = 32  # paper Table 1 (left): first width 32
        m.embedding_dilations = [2]  # paper Table 1 (left): one group of 3 blocks at dilation 2
        m.embedding_out_channels = 256  # paper Table 1 (left): last conv 256; ref EmbeddingCIFAR
    else:
        m.resolution = 128  # paper §4.2: ILSVRC at 128x128; ref imagenet-128.hdf5
        m.downsample = 4  # paper §4.2: chroma subsampling 4; ref README --downsample 4
        m.embedding_channels = 64  # paper Table 1 (right): first width 64
        m.embedding_dilations = [2, 4]  # paper Table 1 (right): dilations 2 then 4
        m.embedding_out_channels = 160  # ref EmbeddingImagenet "downscale_leak_5" (paper Table 1: 512)


def _train(c: ml_collections.ConfigDict, dataset: str) -> None:
    t = c.train
    t.optimizer = "adam"  # paper §3; ref tf.train.AdamOptimizer
    t.beta1 = 0.95  # paper §3 "momentum 0.95"; ref beta1=0.95
    t.beta2 = 0.9995  # paper §3 "second momentum 0.9995"; ref beta2=0.9995
    t.epsilon = 1e-6  # ref epsilon=1e-06
    t.lr_schedule = "exponential"  # paper §4.1: decays after every iteration; ref lr *= lr_decay per batch
    t.ema_decay = 0.999  # paper §3 Polyak averaging; ref README -p 0.999
    c.data.random_flip = True  # ref main.py: random horizontal flip of each batch
    if dataset == "cifar":
        t.learning_rate = 1e-3  # paper §3: 0.001; ref README -lr 0.001
        t.lr_decay = 0.99995  # paper §4.1; ref README -ld 0.99995
        t.batch_size = 64  # paper §4.1: batch 64 (ref: 4 GPUs x 16)
        t.num_steps = 150 * 50_000 // 64  # paper §4.1: 150 epochs of the 50k training images
        c.data.tfds_name = "cifar10"
        c.data.train_split = "train"
        c.data.eval_split = "test"
    else:
        t.learning_rate = 1.6e-4  # ref README -lr 0.00016 (ImageNet)
        t.lr_decay = 0.99999  # ref README -ld 0.99999
        t.batch_size = 64  # ref README: 4 GPUs x batch 16
        t.num_steps = 1_000_000  # not given by paper or ref (they stop by hand); lr is 4.5e-8 by then
    c.eval.batch_size = 16  # ref README --test_batch_size 16


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    """`arg`: one of VARIANTS ("" = "imagenet")."""
    if arg not in VARIANTS:
        raise ValueError(f"configs/pic.py: unknown variant {arg!r}; choose one of {VARIANTS}")
    base, _, ablation = arg.partition(":")
    dataset = "cifar" if base == "cifar" else "imagenet"
    c = base_config()
    _model(c, dataset)
    _train(c, dataset)
    m, t = c.model, c.train
    if ablation == "embedding_only":
        m.embedding_only = True  # paper §4.3: f discarded, g fine-tuned, MAP decoding (temperature 0)
    if base == "tiny":
        # The ILSVRC architecture, narrow and at 1/8 the side: every kind of layer is kept.
        m.resolution //= 8  # 16x16 luminance, 4x4 chroma
        m.embedding_channels //= 16  # 4
        m.embedding_out_channels //= 10  # 16 >= 8 * num_mixtures
        m.channels //= 20  # 8
        m.num_blocks //= 2  # 2
        m.num_mixtures //= 5  # 2
        m.dropout = 0.0  # tests compare outputs
        t.batch_size = 4
        t.num_steps = 20
        t.learning_rate *= 20  # a few steps need a larger step
        t.ema_decay = 0.0
        t.log_every = 5
        t.checkpoint_every = 10
        c.eval.batch_size = 2
        c.eval.num_batches = 1
        c.data.source = "bundled"  # no download: photos shipped by installed packages
        c.data.train_split = "train[:80%]"
        c.data.eval_split = "train[80%:]"
        c.data.shuffle_buffer = 16
    if base == "default":
        # Sized for ~20 min of CPU training (not measured here): the CIFAR architecture, narrower.
        m.resolution = 32
        m.downsample = 2
        m.embedding_channels = 16
        m.embedding_dilations = [2]
        m.embedding_out_channels = 80  # 8 * num_mixtures
        m.channels = 48
        m.num_blocks = 2
        m.dropout = 0.1  # a small data set, a short run
        t.batch_size = 16
        t.num_steps = 2000
        t.learning_rate = 1e-3  # ref CIFAR rate
        t.lr_decay = 0.9995  # ~1/e over the run
        t.ema_decay = 0.99  # averaged over the last ~100 steps of a short run
        t.log_every = 50
        t.checkpoint_every = 500
        c.data.source = "folder"
        c.data.folder = "~/colorize_photos/train"  # common.data.default_photos --out=~/colorize_photos
        c.data.train_split = "train"
        c.data.eval_split = "train"
        c.data.shuffle_buffer = 64
        c.data.crop_min_scale = 0.4
    return c
