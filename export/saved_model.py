"""ExportSpec -> SavedModel in TF Serving's layout, BASE/<model_name>/<version>/, with warm-up requests.

    path = save(spec, "exports")        # exports/coltran/120/{saved_model.pb, variables/, assets.extra/}

The variables are tracked on the module explicitly (`spec.variables`), so TensorFlow's C++ loader (TF
Serving, `saved_model_cli run`) restores them, not only Python's `tf.saved_model.load`.
"""

from __future__ import annotations

import os

import tensorflow as tf

from export.spec import ExportSpec, Signature
from export.warmup import write_warmup

__all__ = ["build_module", "concrete_function", "save"]


def concrete_function(signature: Signature) -> tf.types.experimental.ConcreteFunction:
    """`signature.fn` traced once over its input specs (keyword arguments, as TF Serving passes them)."""
    names = list(signature.inputs)

    def call(*args: tf.Tensor) -> dict[str, tf.Tensor]:
        return signature.fn(**dict(zip(names, args, strict=True)))

    specs = [tf.TensorSpec(s.shape, s.dtype, name=n) for n, s in signature.inputs.items()]
    return tf.function(call, input_signature=specs, autograph=False).get_concrete_function()


def build_module(spec: ExportSpec) -> tuple[tf.Module, dict[str, tf.types.experimental.ConcreteFunction]]:
    """A tf.Module that tracks every variable, and each signature's concrete function."""
    module = tf.Module()
    module.model_variables = list(spec.variables)
    functions = {s.name: concrete_function(s) for s in spec.signatures}
    for name, fn in functions.items():
        setattr(module, f"fn_{name}", fn)
    return module, functions


def save(
    spec: ExportSpec,
    base: str,
    *,
    warmup_signatures: tuple[str, ...] | None = None,
    built: tuple[tf.Module, dict] | None = None,
) -> str:
    """Writes BASE/<model_name>/<version>/ and returns that path.

    warmup_signatures: which signatures' example requests go into assets.extra (default: all).
    built: `build_module(spec)`'s result, when the caller has it already (tracing is slow).
    An existing version folder is an error (TF Serving may be serving it).
    """
    path = os.path.join(base, spec.model_name, str(spec.version))
    if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        raise FileExistsError(f"export: {path} already holds a SavedModel; pass another --version or --out")
    module, functions = built or build_module(spec)
    tf.saved_model.save(module, path, signatures=functions)
    chosen = [s for s in spec.signatures if warmup_signatures is None or s.name in warmup_signatures]
    write_warmup(os.path.join(path, "assets.extra", "tf_serving_warmup_requests"), spec.model_name, chosen)
    return path
