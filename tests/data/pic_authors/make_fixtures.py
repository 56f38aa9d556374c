"""Runs the PIC authors' graph code (ameroyer/PIC models.py / nn.py / utils.py, patched only to import
tensorflow.compat.v1 and to take the embedding widths from the environment) under TF 2.21's tf.compat.v1,
as their main.py builds it, and writes a small checkpoint plus inputs and outputs.

    python make_fixtures.py fixture  --dataset cifar    --out DIR   # tiny model, 1 Adam step, EMA, outputs
    python make_fixtures.py manifest --dataset imagenet --out FILE  # variable names/shapes, paper size
"""

import argparse
import os
import sys

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("mode", choices=["fixture", "manifest"])
parser.add_argument("--dataset", choices=["cifar", "imagenet"], required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--size", type=int, default=8)
parser.add_argument("--downsample", type=int, default=2)
parser.add_argument("-c", "--nr_channels", type=int, default=8)
parser.add_argument("-l", "--nr_pxpp_blocks", type=int, default=1)
parser.add_argument("-m", "--nr_logistic_mix", type=int, default=2)
parser.add_argument("--batch", type=int, default=3)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


class _Cast:  # NumPy 2 removed np.cast[dtype](x), which their utils.pcnn_norm uses
    def __getitem__(self, dtype):
        return lambda value: np.asarray(value, dtype=dtype)


np.cast = _Cast()
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()
import models  # noqa: E402
import nn  # noqa: E402
from utils import color_to_gray, convert_color, downsample_tf  # noqa: E402

tf.set_random_seed(args.seed)
np.random.seed(args.seed)
W = H = args.size
num_outputs = 8 * args.nr_logistic_mix
B = args.batch


def picolor(x, x_gray, return_embedding=False):  # main.py's template
    return models.PIColorization(x, x_gray, args.nr_channels, args.nr_pxpp_blocks, num_outputs,
                                 dataset=args.dataset, return_embedding=return_embedding)


picolor_with_scope = tf.make_template("picolor_template", picolor)

# main.py "Model (init)"
tf.GLOBAL = {}
tf.GLOBAL["dropout"] = 0.0
tf.GLOBAL["init"] = True
tf.GLOBAL["reg"] = 0.0
x_init = tf.placeholder(tf.float32, (B, W, H, 3))
x_init_clr = tf.placeholder(tf.float32, (B, W, H, 3))
picolor_with_scope(downsample_tf(x_init, args.downsample), color_to_gray(x_init_clr, colorspace="lab"))
tf.GLOBAL["init"] = False
all_params = tf.trainable_variables()
ema = tf.train.ExponentialMovingAverage(decay=0.999)
maintain_averages_op = tf.group(ema.apply(all_params))

if args.mode == "manifest":
    with open(args.out, "w") as f:
        for v in tf.global_variables():
            f.write(f"{v.op.name}\t{v.shape.as_list()}\n")
    sys.exit(0)

# main.py "Model (training)", dropout 0 so that outputs are deterministic
x = tf.placeholder(tf.float32, (B, W, H, 3))
x_clr = tf.placeholder(tf.float32, (B, W, H, 3))
x_gray = color_to_gray(x_clr, colorspace="lab")
canvas = downsample_tf(x, args.downsample)
targets = downsample_tf(x_clr, args.downsample)
out_raw, emb_raw = picolor_with_scope(canvas, x_gray, return_embedding=True)
tf.GLOBAL["ema"] = ema
out_ema, emb_ema = picolor_with_scope(canvas, x_gray, return_embedding=True)
tf.GLOBAL.pop("ema")


def per_image_nll(params):
    per_pixel = nn.discretized_mix_logistic_loss(targets, params, args.nr_logistic_mix, "lab", sum_all=False)
    return tf.reduce_sum(per_pixel, axis=[1, 2])


nll_raw, nll_emb_raw = per_image_nll(out_raw), per_image_nll(emb_raw[..., :num_outputs])
nll_ema, nll_emb_ema = per_image_nll(out_ema), per_image_nll(emb_ema[..., :num_outputs])
bits_per_dim = nn.colorization_loss(targets, out_raw, args.nr_logistic_mix, "lab") / B
emb_head = emb_raw[..., :num_outputs]
bits_per_dim_embedding = nn.colorization_loss(targets, emb_head, args.nr_logistic_mix, "lab") / B
opt = tf.train.AdamOptimizer(learning_rate=1e-2, beta1=0.95, beta2=0.9995, epsilon=1e-06)
train_step = opt.minimize(bits_per_dim + bits_per_dim_embedding)

rng = np.random.default_rng(args.seed)
images_init = rng.integers(0, 256, (B, W, H, 3)).astype(np.uint8)
images = rng.integers(0, 256, (B, W, H, 3)).astype(np.uint8)
feed_init = {x_init: convert_color(images_init, colorspace="RGB", normalized_out=True),
             x_init_clr: convert_color(images_init, colorspace="lab", normalized_out=True)}
feed = {x: convert_color(images, colorspace="RGB", normalized_out=True),
        x_clr: convert_color(images, colorspace="lab", normalized_out=True)}
os.makedirs(args.out, exist_ok=True)
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer(), feed_init)  # data-dependent init, as main.py
    g_init = sess.run(all_params[2])  # a gain right after the init pass
    for _ in range(3):  # a few steps, so that the EMA and the raw weights differ
        sess.run(train_step, feed)
        sess.run(maintain_averages_op)
    outs = sess.run(dict(params_raw=out_raw, params_ema=out_ema, embedding_raw=emb_raw, embedding_ema=emb_ema,
                         nll_raw=nll_raw, nll_ema=nll_ema, nll_embedding_raw=nll_emb_raw,
                         nll_embedding_ema=nll_emb_ema, canvas=canvas, targets=targets), feed)
    tf.train.Saver().save(sess, os.path.join(args.out, "model.ckpt"), write_meta_graph=False)
np.savez_compressed(os.path.join(args.out, "io.npz"), images=images, images_init=images_init,
                    x=feed[x], x_clr=feed[x_clr], first_gain_after_init=g_init,
                    **{k: np.asarray(v) for k, v in outs.items()})
print("wrote", args.out, {k: np.asarray(v).shape for k, v in outs.items()})
