"""Causal (masked) convolutions of the gated PixelCNN over Cr-then-Cb chroma (van den Oord et al. 2016).

Positions are generated in raster order and, inside a pixel, Cr before Cb (PixColor §3.1). Every feature
map of the PixelCNN splits its channels into two groups, group 0 (the Cr half) and group 1 (the Cb half);
a feature of group g at pixel (i, j) may depend on chroma channels < g of pixel (i, j) itself (mask A,
the first layer) or on features of groups <= g at (i, j) (mask B, later layers), and on anything strictly
before (i, j). Layouts (how a channel index maps to its group):
  "plain": channel c of n belongs to group c * 2 // n (the input [Cr, Cb]: c; logits [2 * K]: c // K);
  "gated": channel c of 2p (the [f | g] pre-activations of a gate) belongs to group (c mod p) * 2 // p, so
           f[c] and g[c] share a group and the gate tanh(f) * sigmoid(g) keeps the plain layout.
Shapes (the kernel stores only the taps a kind may use; padding keeps H x W):
  "causal":     (k//2 + 1) x k, rows i - k//2 .. i, center row masked right of j, center tap by group;
  "vertical":   (k//2 + 1) x k, rows i - k//2 .. i, no mask (the vertical stack reaches the horizontal
                stack shifted down one row, so its current row is never seen);
  "horizontal": 1 x (k//2 + 1), row i, columns j - k//2 .. j, center tap by group;
  "pointwise":  1 x 1, the center tap by group (or unmasked with mask_type None).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pixcolor.constants import NUM_CHROMA

KINDS = ("causal", "vertical", "horizontal", "pointwise")
LAYOUTS = ("plain", "gated")


def channel_groups(n: int, layout: str) -> np.ndarray:
    """int [n]: the chroma group (0 = Cr, 1 = Cb) of each channel of a feature map (module docstring)."""
    if layout == "plain":
        if n % NUM_CHROMA:
            raise ValueError(f"pixcolor/masked_conv.py: {n} channels do not split into Cr / Cb halves")
        return np.arange(n) * NUM_CHROMA // n
    if layout == "gated":
        if n % (2 * NUM_CHROMA):
            raise ValueError(f"pixcolor/masked_conv.py: {n} gate channels do not split into [f | g] halves")
        return channel_groups(n // 2, "plain")[np.arange(n) % (n // 2)]
    raise ValueError(f"pixcolor/masked_conv.py: layout must be one of {LAYOUTS}, got {layout!r}")


def center_mask(in_groups: np.ndarray, out_groups: np.ndarray, mask_type: str | None) -> np.ndarray:
    """float32 [in, out]: which input channel may reach which output channel at the same pixel."""
    if mask_type is None:
        return np.ones((len(in_groups), len(out_groups)), np.float32)
    if mask_type == "A":
        return (in_groups[:, None] < out_groups[None, :]).astype(np.float32)
    if mask_type == "B":
        return (in_groups[:, None] <= out_groups[None, :]).astype(np.float32)
    raise ValueError(f"pixcolor/masked_conv.py: mask_type must be 'A', 'B' or None, got {mask_type!r}")


def kernel_geometry(kind: str, size: int) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """((kernel rows, cols), (pad top, bottom, left, right)) of a kind (module docstring)."""
    half = size // 2
    if kind in ("causal", "vertical"):
        return (half + 1, size), (half, 0, half, half)
    if kind == "horizontal":
        return (1, half + 1), (0, 0, half, 0)
    if kind == "pointwise":
        return (1, 1), (0, 0, 0, 0)
    raise ValueError(f"pixcolor/masked_conv.py: kind must be one of {KINDS}, got {kind!r}")


@keras.saving.register_keras_serializable(package="colorize")
class MaskedConv2D(keras.layers.Layer):
    """A causal convolution: x [B, H, W, Cin] -> [B, H, W, filters] (module docstring for the kinds).

    Args:
      filters: output channels; size: k (odd; 1 for "pointwise"); kind: see KINDS.
      mask_type: "A" | "B" | None (the group rule at the center tap); in_layout / out_layout: "plain" |
        "gated" (how channels map to the Cr / Cb groups); use_bias: a bias (initialised to 0, the table).
      init_stddev: truncated-normal stddev of the kernel (0.1, the appendix table).
    The stored kernel has only the taps of its kind; `masked_kernel()` is what the convolution uses (the
    fast sampler applies the same tensor tap by tap).
    """

    def __init__(
        self,
        filters: int,
        size: int,
        kind: str,
        mask_type: str | None = "B",
        in_layout: str = "plain",
        out_layout: str = "plain",
        use_bias: bool = True,
        init_stddev: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if size < 1 or size % 2 == 0:
            raise ValueError(f"pixcolor/masked_conv.py: size must be odd and >= 1, got {size}")
        self.filters = int(filters)
        self.size = int(size)
        self.kind = kind
        self.mask_type = mask_type
        self.in_layout = in_layout
        self.out_layout = out_layout
        self.use_bias = bool(use_bias)
        self.init_stddev = float(init_stddev)
        self.kernel_shape, self.padding = kernel_geometry(kind, size)
        if kind == "vertical" and mask_type is not None:
            raise ValueError("pixcolor/masked_conv.py: a vertical-stack convolution takes mask_type=None")

    def build(self, input_shape: Any) -> None:
        cin = int(input_shape[-1])
        rows, cols = self.kernel_shape
        self.kernel = self.add_weight(
            name="kernel",
            shape=(rows, cols, cin, self.filters),
            initializer=keras.initializers.TruncatedNormal(stddev=self.init_stddev),
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
            if self.use_bias
            else None
        )
        mask = np.ones((rows, cols, cin, self.filters), np.float32)
        if self.kind != "vertical" and self.mask_type is not None:
            center = center_mask(
                channel_groups(cin, self.in_layout),
                channel_groups(self.filters, self.out_layout),
                self.mask_type,
            )
            mask[rows - 1, cols // 2 if self.kind == "causal" else cols - 1] = center
            if self.kind == "causal":
                mask[rows - 1, cols // 2 + 1 :] = 0.0  # the rest of the current row lies in the future
        self.mask = mask

    def masked_kernel(self) -> tf.Tensor:
        return self.kernel * tf.constant(self.mask, self.kernel.dtype)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        top, bottom, left, right = self.padding
        if any(self.padding):
            x = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
        y = tf.nn.conv2d(x, tf.cast(self.masked_kernel(), x.dtype), 1, "VALID")
        return y if self.bias is None else y + tf.cast(self.bias, y.dtype)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "size": self.size,
            "kind": self.kind,
            "mask_type": self.mask_type,
            "in_layout": self.in_layout,
            "out_layout": self.out_layout,
            "use_bias": self.use_bias,
            "init_stddev": self.init_stddev,
        }
