"""ExportSpec signatures -> .tflite files with TFLite builtin ops only (float32 or dynamic-range int8).

    spec = spec_for_models(models, version=1, options=tflite_options(options))
    write_tflite(spec, "exports/tflite")   # colorize_square.float32.tflite, colorize_square.int8.tflite, ...

Loops convert to WHILE; sampling must use common.sampling's hashed Gumbel-max (stateless random ops
would need Flex ops, which `ai_edge_litert` does not run). A signature that needs any other op fails the
conversion with the converter's list of the missing ops. TFLite files are converted from the spec's
functions (not from the SavedModel) with `tflite_options`: `top_k` read at run time (any k: one TOPK_V2
of runtime k, since a branch per k, a Case op capturing the weights, does not freeze) and no asserts
(TFLite drops them).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence

import tensorflow as tf

from export.saved_model import concrete_function
from export.spec import ExportOptions, ExportSpec

QUANTIZATIONS = ("float32", "int8")

__all__ = ["QUANTIZATIONS", "convert", "tflite_options", "tflite_path", "write_tflite"]


def tflite_options(options: ExportOptions) -> ExportOptions:
    """The options TFLite functions are built with: top_k at run time, no asserts, no XLA."""
    return dataclasses.replace(options, runtime_top_k=True, checks=False, xla=False)


def convert(saved_model_dir: str, signature: str, quantization: str) -> bytes:
    """One signature of a SavedModel as a .tflite flatbuffer whose signature keeps that name.

    quantization: "float32", or "int8" (dynamic range: weights stored as int8, activations float).
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"export/tflite.py: quantization must be one of {QUANTIZATIONS}, got {quantization!r}"
        )
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[signature])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def tflite_path(out_dir: str, signature: str, quantization: str) -> str:
    return os.path.join(out_dir, f"{signature}.{quantization}.tflite")


def write_tflite(
    spec: ExportSpec,
    out_dir: str,
    quantizations: Sequence[str] = QUANTIZATIONS,
    signatures: Sequence[str] | None = None,
) -> list[str]:
    """Converts each signature marked `tflite` (or those named) in each quantization; returns the paths."""
    tf.io.gfile.makedirs(out_dir)
    names = [s.name for s in spec.signatures if s.tflite and (signatures is None or s.name in signatures)]
    module = tf.Module()
    module.model_variables = list(spec.variables)
    functions = {n: concrete_function(spec.signature(n)) for n in names}
    paths = []
    with tempfile.TemporaryDirectory() as tmp:  # a SavedModel of the TFLite functions keeps their names
        tf.saved_model.save(module, tmp, signatures=functions)
        for name in names:
            for q in quantizations:
                path = tflite_path(out_dir, name, q)
                with tf.io.gfile.GFile(path, "wb") as f:
                    f.write(convert(tmp, name, q))
                paths.append(path)
    return paths
