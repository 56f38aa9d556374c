"""Per-model preprocessing ops: TensorFlow ops on one image [H, W, C], graph-safe (tf.data, tf.function).

Models build their `preprocess(example, training)` from these (common/protocol.py):
  ColTran (§4, appendix): random square crop in training (centre crop at evaluation), area resize to 256,
     64x64 targets by an antialiased area resize -> `random_square_crop` / `central_square_crop`,
     `resize_area(x, 256)`, `resize_area(x, 64)`.
  PixColor (§3): low-resolution colour targets whose smallest side is 28 -> `resize_smallest_side(x, 28)`;
     near-grayscale training images dropped -> `colorness` / `is_colorful` (used by common.data.pipeline).
  PIC (§4): random horizontal flips -> `random_flip_left_right`.

Randomness: every random op takes an optional stateless `seed` (int32/int64 [2]). `build_dataset` gives
each example a distinct `example["seed"]` derived from its run seed, so a seeded pipeline replays the
same crops and flips; `split_seed` makes independent seeds for several ops. With `seed=None` the op uses
TensorFlow's stateful random ops instead (not reproducible under a parallel `tf.data` map).

Sizes are an int (square) or (height, width). Resizes return float32 in the units of their input (an
8-bit image stays in [0, 255]); `to_float01` converts uint8 to [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from common.color import rgb_to_gray

Size = int | Sequence[int]
# Chroma centre of JPEG full-range YCbCr on the [0, 1] scale (common/color.py): grays have Cb = Cr = this.
_CHROMA_CENTRE = 128.0 / 255.0
PIXCOLOR_COLORNESS_THRESHOLD = 0.05


def _hw(size: Size) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def to_float01(image: tf.Tensor) -> tf.Tensor:
    """uint8 [..., C] in [0, 255] -> float32 in [0, 1]; a float image is returned as float32 unchanged."""
    image = tf.convert_to_tensor(image)
    if image.dtype == tf.uint8:
        return tf.cast(image, tf.float32) / 255.0
    return tf.cast(image, tf.float32)


def split_seed(seed: tf.Tensor, num: int = 2) -> tf.Tensor:
    """A stateless seed [2] -> `num` independent seeds [num, 2] (e.g. one for the crop, one for the flip)."""
    return tf.random.experimental.stateless_split(tf.convert_to_tensor(seed), num=num)


# ----------------------------------------------------------------------------------------------- crops
def _square_side(image: tf.Tensor) -> tf.Tensor:
    shape = tf.shape(image)
    return tf.minimum(shape[0], shape[1])


def central_square_crop(image: tf.Tensor) -> tf.Tensor:
    """[H, W, C] -> the centred [S, S, C] crop, S = min(H, W); offsets (H - S) // 2, (W - S) // 2."""
    side = _square_side(image)
    shape = tf.shape(image)
    top = (shape[0] - side) // 2
    left = (shape[1] - side) // 2
    return image[top : top + side, left : left + side]


def random_square_crop(image: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
    """[H, W, C] -> a uniformly placed [S, S, C] crop, S = min(H, W) (ColTran's training crop)."""
    side = _square_side(image)
    size = tf.stack([side, side, tf.shape(image)[2]])
    if seed is None:
        return tf.image.random_crop(image, size)
    return tf.image.stateless_random_crop(image, size, seed=seed)


def random_flip_left_right(image: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
    """[H, W, C] -> the image mirrored left-right with probability 1/2 (PIC's augmentation)."""
    if seed is None:
        return tf.image.random_flip_left_right(image)
    return tf.image.stateless_random_flip_left_right(image, seed=seed)


# --------------------------------------------------------------------------------------------- resizes
def resize_area(image: tf.Tensor, size: Size) -> tf.Tensor:
    """[H, W, C] -> float32 [h, w, C] by area averaging (each output pixel = mean of the box it covers).

    An integer factor down gives exact block means; it is inherently antialiased (ColTran's resizes).
    """
    return tf.image.resize(tf.cast(image, tf.float32), _hw(size), method="area")


def resize_antialiased(image: tf.Tensor, size: Size, method: str = "bilinear") -> tf.Tensor:
    """[H, W, C] -> float32 [h, w, C] with `tf.image.resize(method, antialias=True)`.

    When shrinking, the kernel is widened by the scale factor, so no aliasing (a plain bilinear resize
    would sample only a few input pixels per output pixel).
    """
    return tf.image.resize(tf.cast(image, tf.float32), _hw(size), method=method, antialias=True)


def smallest_side_size(height: tf.Tensor, width: tf.Tensor, smallest: int) -> tf.Tensor:
    """int32 [2] (h, w): the short side becomes `smallest`, the long side round(long * smallest / short)."""
    h = tf.cast(height, tf.float64)
    w = tf.cast(width, tf.float64)
    short = tf.minimum(h, w)
    new_h = tf.where(h <= w, tf.constant(smallest, tf.float64), tf.round(h * smallest / short))
    new_w = tf.where(h <= w, tf.round(w * smallest / short), tf.constant(smallest, tf.float64))
    return tf.cast(tf.stack([new_h, new_w]), tf.int32)


def resize_smallest_side(
    image: tf.Tensor, smallest: int, method: str = "area", antialias: bool = True
) -> tf.Tensor:
    """[H, W, C] -> float32 [h, w, C] whose short side is `smallest`, aspect ratio kept (PixColor: 28).

    E.g. 40x60 -> 28x42 and 60x40 -> 42x28. `antialias` applies to the non-area methods.
    """
    shape = tf.shape(image)
    size = smallest_side_size(shape[0], shape[1], smallest)
    return tf.image.resize(tf.cast(image, tf.float32), size, method=method, antialias=antialias)


# ------------------------------------------------------------------------------------------ grayscale
def to_gray(image: tf.Tensor) -> tf.Tensor:
    """RGB [..., 3] (uint8, or float in [0, 1]) -> float32 luma [..., 1] in [0, 1] (BT.601 Y)."""
    return rgb_to_gray(to_float01(image))


def colorness(image: tf.Tensor) -> tf.Tensor:
    """How colourful an RGB image is: a float32 scalar >= 0 (0 for any gray image).

    Definition: convert to JPEG full-range YCbCr with every channel in [0, 1] (common.color.rgb_to_ycbcr),
    then take the mean over all pixels of the chroma magnitude sqrt((Cb - c)^2 + (Cr - c)^2), with
    c = 128/255 the chroma of gray. Pure red scores about 0.52; a gray image scores exactly 0.
    `image`: [H, W, 3] (or [..., 3]) uint8, or float in [0, 1].
    """
    rgb = to_float01(image)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # Cb - c and Cr - c of common.color.rgb_to_ycbcr's JPEG matrix, written on differences from G (each
    # row's coefficients sum to 0), so a gray pixel gives exactly 0 whatever the rounding of a matmul;
    # clipped like rgb_to_ycbcr clips Cb and Cr to [0, 1].
    cb = 0.5 * (b - g) - 0.168735892 * (r - g)
    cr = 0.5 * (r - g) - 0.081312411 * (b - g)
    chroma = tf.clip_by_value(tf.stack([cb, cr], axis=-1), -_CHROMA_CENTRE, 1.0 - _CHROMA_CENTRE)
    return tf.reduce_mean(tf.sqrt(tf.reduce_sum(tf.square(chroma), axis=-1)))


def is_colorful(image: tf.Tensor, threshold: float = PIXCOLOR_COLORNESS_THRESHOLD) -> tf.Tensor:
    """bool scalar: colorness(image) >= threshold (PixColor drops near-grayscale training images)."""
    return colorness(image) >= threshold
