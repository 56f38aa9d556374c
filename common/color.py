"""Colour-space conversions: RGB <-> YCbCr (JPEG full range) and RGB <-> CIE Lab (sRGB, D65).

TensorFlow ops on float32 [..., 3] that work eagerly, inside `tf.data` and `tf.function`, and under
`tf.GradientTape` (every `pow` is guarded so gradients stay finite on all of [0, 1], black included),
plus numpy twins with the suffix `_np` that are written separately (float64 inside) for tests.

Ranges:
  RGB:   sRGB in [0, 1] (8-bit value / 255).
  YCbCr: JPEG / JFIF full-range BT.601, each channel the 8-bit JPEG value / 255, chroma centred at
         128/255. The exact affine map gives Cb, Cr in [0.5/255, 255.5/255]; like 8-bit JPEG (and PIL),
         `rgb_to_ycbcr` clips them to [0, 1] unless `clip=False`.
  Lab:   CIE L*a*b* for sRGB primaries and the D65 white point (2 degree observer), L in [0, 100], a in
         about [-86, 98], b in about [-108, 94] for in-gamut colours. The white point is the row sum of
         the RGB -> XYZ matrix, so every gray (r = g = b) has a = b = 0 exactly (up to rounding).

Tolerances (measured by tests/common/test_color.py over a dense grid of 8-bit colours):
  rgb -> lab -> rgb and rgb -> ycbcr -> rgb (clip=False) round trip within 1e-4 (float32);
  rgb -> ycbcr -> rgb with the default clipping: within 1e-4 except near-pure red / blue, within 1/255;
  rgb_to_lab vs skimage.color.rgb2lab: |dL|, |da|, |db| < 0.01;
  rgb_to_ycbcr * 255 vs PIL Image.convert("YCbCr") (8-bit, integer arithmetic): within 1 8-bit unit.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# sRGB (ITU-R BT.709 primaries, D65) linear RGB -> XYZ, the matrix scikit-image also uses.
_XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)
# Reference white = XYZ of RGB (1, 1, 1), so grays map to a = b = 0.
_WHITE = _XYZ_FROM_RGB.sum(axis=1)

# CIE Lab piecewise cube root: f(t) = t^(1/3) above delta^3, linear below (CIE 15:2004).
_DELTA = 6.0 / 29.0
_DELTA3 = _DELTA**3
_LIN_SLOPE = 1.0 / (3.0 * _DELTA**2)
_LIN_OFFSET = 4.0 / 29.0

# sRGB transfer function (IEC 61966-2-1).
_SRGB_KNEE = 0.04045
_SRGB_KNEE_LINEAR = 0.0031308

# JPEG / JFIF full-range BT.601 (ITU-T T.871): YCbCr = M @ RGB + offset, all on a [0, 1] scale.
_YCBCR_FROM_RGB = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168735892, -0.331264108, 0.5],
        [0.5, -0.418687589, -0.081312411],
    ]
)
_YCBCR_OFFSET = np.array([0.0, 128.0 / 255.0, 128.0 / 255.0])
_RGB_FROM_YCBCR = np.linalg.inv(_YCBCR_FROM_RGB)


# ---------------------------------------------------------------------------------------------------
# TensorFlow ops
# ---------------------------------------------------------------------------------------------------


def _as_float3(x: tf.Tensor, name: str) -> tf.Tensor:
    """Converts to float32 and checks the static last dimension is 3 (one clear error otherwise)."""
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(
            f"common/color.py: {name} expects a float tensor in its documented range, got {x.dtype.name}; "
            "convert 8-bit images first, e.g. tf.image.convert_image_dtype(img, tf.float32)"
        )
    if x.shape.rank == 0 or (x.shape.rank is not None and x.shape[-1] is not None and x.shape[-1] != 3):
        raise ValueError(f"common/color.py: {name} expects shape [..., 3], got {x.shape}")
    return tf.cast(x, tf.float32)


def _apply_matrix(x: tf.Tensor, matrix: np.ndarray) -> tf.Tensor:
    """x [..., 3] -> x @ matrix.T, written as a tensordot so any leading shape works."""
    return tf.tensordot(x, tf.constant(matrix.T, tf.float32), axes=[[-1], [0]])


def rgb_to_ycbcr(rgb: tf.Tensor, clip: bool = True) -> tf.Tensor:
    """sRGB [..., 3] in [0, 1] -> JPEG full-range YCbCr [..., 3], each channel in [0, 1].

    Y, Cb, Cr are the 8-bit JPEG values / 255 (chroma centred at 128/255). With `clip` (default) the
    chroma of near-pure red / blue (which the exact map puts at up to 255.5/255) is clipped to 1 as
    8-bit JPEG does; `clip=False` keeps the exact, exactly invertible affine map.
    """
    rgb = _as_float3(rgb, "rgb_to_ycbcr(rgb)")
    ycbcr = _apply_matrix(rgb, _YCBCR_FROM_RGB) + tf.constant(_YCBCR_OFFSET, tf.float32)
    return tf.clip_by_value(ycbcr, 0.0, 1.0) if clip else ycbcr


def ycbcr_to_rgb(ycbcr: tf.Tensor, clip: bool = True) -> tf.Tensor:
    """JPEG full-range YCbCr [..., 3] in [0, 1] -> sRGB [..., 3], clipped to [0, 1] unless `clip=False`.

    The exact inverse of `rgb_to_ycbcr(..., clip=False)` (round trip within 1e-4 in float32).
    """
    ycbcr = _as_float3(ycbcr, "ycbcr_to_rgb(ycbcr)")
    rgb = _apply_matrix(ycbcr - tf.constant(_YCBCR_OFFSET, tf.float32), _RGB_FROM_YCBCR)
    return tf.clip_by_value(rgb, 0.0, 1.0) if clip else rgb


def rgb_to_gray(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB [..., 3] in [0, 1] -> luma [..., 1] in [0, 1]: the Y channel of `rgb_to_ycbcr` (BT.601)."""
    rgb = _as_float3(rgb, "rgb_to_gray(rgb)")
    return _apply_matrix(rgb, _YCBCR_FROM_RGB[:1])


def _srgb_to_linear(c: tf.Tensor) -> tf.Tensor:
    # The pow branch only sees bases >= its knee, so neither it nor its gradient can be NaN / inf.
    c_pow = tf.maximum(c, _SRGB_KNEE)
    return tf.where(c <= _SRGB_KNEE, c / 12.92, tf.pow((c_pow + 0.055) / 1.055, 2.4))


def _linear_to_srgb(c: tf.Tensor) -> tf.Tensor:
    # d/dc c^(1/2.4) is infinite at 0: evaluate the pow only above the knee.
    c_pow = tf.maximum(c, _SRGB_KNEE_LINEAR)
    return tf.where(c <= _SRGB_KNEE_LINEAR, 12.92 * c, 1.055 * tf.pow(c_pow, 1.0 / 2.4) - 0.055)


def _lab_f(t: tf.Tensor) -> tf.Tensor:
    # The cube root's gradient is infinite at 0 (black): evaluate it only above delta^3.
    t_pow = tf.maximum(t, _DELTA3)
    return tf.where(t > _DELTA3, tf.pow(t_pow, 1.0 / 3.0), t * _LIN_SLOPE + _LIN_OFFSET)


def _lab_f_inv(u: tf.Tensor) -> tf.Tensor:
    return tf.where(u > _DELTA, u * u * u, (u - _LIN_OFFSET) / _LIN_SLOPE)


def rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB [..., 3] in [0, 1] -> CIE Lab [..., 3] (D65, 2 degree): L in [0, 100], a, b within [-110, 100].

    Agrees with skimage.color.rgb2lab within 0.01 in L, a and b; gradients are finite on all of [0, 1].
    """
    rgb = _as_float3(rgb, "rgb_to_lab(rgb)")
    xyz = _apply_matrix(_srgb_to_linear(rgb), _XYZ_FROM_RGB) / tf.constant(_WHITE, tf.float32)
    f = _lab_f(xyz)
    fx, fy, fz = tf.unstack(f, axis=-1)
    return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab: tf.Tensor, clip: bool = True) -> tf.Tensor:
    """CIE Lab [..., 3] (D65; L in [0, 100]) -> sRGB [..., 3], clipped to [0, 1] unless `clip=False`.

    Inverse of `rgb_to_lab`: rgb -> lab -> rgb round trips within 1e-4 for in-gamut colours. Lab values
    outside the sRGB gamut (e.g. arbitrary model outputs) map to the nearest value per channel by the
    clipping, as skimage.color.lab2rgb does.
    """
    lab = _as_float3(lab, "lab_to_rgb(lab)")
    lightness, a, b = tf.unstack(lab, axis=-1)
    fy = (lightness + 16.0) / 116.0
    f = tf.stack([fy + a / 500.0, fy, fy - b / 200.0], axis=-1)
    xyz = _lab_f_inv(f) * tf.constant(_WHITE, tf.float32)
    rgb = _linear_to_srgb(_apply_matrix(xyz, _RGB_FROM_XYZ))
    return tf.clip_by_value(rgb, 0.0, 1.0) if clip else rgb


# ---------------------------------------------------------------------------------------------------
# numpy twins (float64 inside; float32 out unless the input is float64)
# ---------------------------------------------------------------------------------------------------


def _np_float3(x: np.ndarray, name: str) -> tuple[np.ndarray, np.dtype]:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"common/color.py: {name} expects a float array in its documented range, got {x.dtype}"
        )
    if x.ndim == 0 or x.shape[-1] != 3:
        raise ValueError(f"common/color.py: {name} expects shape [..., 3], got {x.shape}")
    out_dtype = np.float64 if x.dtype == np.float64 else np.float32
    return x.astype(np.float64), out_dtype


def rgb_to_ycbcr_np(rgb: np.ndarray, clip: bool = True) -> np.ndarray:
    """numpy twin of `rgb_to_ycbcr`."""
    rgb, dtype = _np_float3(rgb, "rgb_to_ycbcr_np(rgb)")
    ycbcr = rgb @ _YCBCR_FROM_RGB.T + _YCBCR_OFFSET
    return (np.clip(ycbcr, 0.0, 1.0) if clip else ycbcr).astype(dtype)


def ycbcr_to_rgb_np(ycbcr: np.ndarray, clip: bool = True) -> np.ndarray:
    """numpy twin of `ycbcr_to_rgb`."""
    ycbcr, dtype = _np_float3(ycbcr, "ycbcr_to_rgb_np(ycbcr)")
    rgb = (ycbcr - _YCBCR_OFFSET) @ _RGB_FROM_YCBCR.T
    return (np.clip(rgb, 0.0, 1.0) if clip else rgb).astype(dtype)


def rgb_to_gray_np(rgb: np.ndarray) -> np.ndarray:
    """numpy twin of `rgb_to_gray`: [..., 3] -> [..., 1]."""
    rgb, dtype = _np_float3(rgb, "rgb_to_gray_np(rgb)")
    return (rgb @ _YCBCR_FROM_RGB[:1].T).astype(dtype)


def rgb_to_lab_np(rgb: np.ndarray) -> np.ndarray:
    """numpy twin of `rgb_to_lab`."""
    rgb, dtype = _np_float3(rgb, "rgb_to_lab_np(rgb)")
    linear = np.where(rgb <= _SRGB_KNEE, rgb / 12.92, ((np.maximum(rgb, _SRGB_KNEE) + 0.055) / 1.055) ** 2.4)
    t = (linear @ _XYZ_FROM_RGB.T) / _WHITE
    f = np.where(t > _DELTA3, np.cbrt(t), t * _LIN_SLOPE + _LIN_OFFSET)
    lab = np.stack(
        [116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], axis=-1
    )
    return lab.astype(dtype)


def lab_to_rgb_np(lab: np.ndarray, clip: bool = True) -> np.ndarray:
    """numpy twin of `lab_to_rgb`."""
    lab, dtype = _np_float3(lab, "lab_to_rgb_np(lab)")
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = np.where(f > _DELTA, f**3, (f - _LIN_OFFSET) / _LIN_SLOPE) * _WHITE
    linear = xyz @ _RGB_FROM_XYZ.T
    rgb = np.where(
        linear <= _SRGB_KNEE_LINEAR,
        12.92 * linear,
        1.055 * np.maximum(linear, _SRGB_KNEE_LINEAR) ** (1.0 / 2.4) - 0.055,
    )
    return (np.clip(rgb, 0.0, 1.0) if clip else rgb).astype(dtype)
