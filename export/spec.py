"""What a model hands the exporter: its variables, its signatures and an example request for each.

The exporter (export/saved_model.py, export/tflite.py) knows nothing else of a model. A model package
`pkg` plugs in by providing `pkg/export_spec.py` with a function

    export_spec(models: dict[str, keras.Model], *, version: int, options: ExportOptions) -> ExportSpec

that receives the loaded models of the given work directories keyed by their registry names
(common.registry) and returns an `ExportSpec`; `find_spec_builder` finds it from a model's class.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

SERVING_DEFAULT = "serving_default"

# The sampling inputs every model's sampling signatures take besides its images (common/protocol.py's
# `sample` arguments), as scalars, and a valid request of them.
SAMPLING_INPUTS = {
    "num_samples": tf.TensorSpec([], tf.int32),
    "seed": tf.TensorSpec([], tf.int32),
    "temperature": tf.TensorSpec([], tf.float32),
    "top_k": tf.TensorSpec([], tf.int32),
}


def sampling_example(num_samples: int = 2) -> dict[str, np.ndarray]:
    """A valid value of each of SAMPLING_INPUTS (for example requests and warm-up)."""
    return {
        "num_samples": np.int32(num_samples),
        "seed": np.int32(0),
        "temperature": np.float32(1.0),
        "top_k": np.int32(0),
    }


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """Export-time choices shared by every model.

    xla: compile the sampling loops with XLA (`jit_compile`); stock TF Serving binaries run the graph
      either way only when built with XLA, so the default is off.
    top_k_values: the values the `top_k` input may take at serving time (each one is a branch of the
      graph, since top-k needs a static k); any other value is a bad request.
    checks: in-graph asserts on the inputs (TFLite drops asserts, so TFLite functions are built without).
    runtime_top_k: `top_k` read at run time by one TopK of runtime k, so any k works and `top_k_values`
      is not used (TFLite: a branch per k does not freeze, and without asserts a k outside the branches
      would be silently replaced; XLA needs a static k, so SavedModels keep the branches).
    """

    xla: bool = False
    top_k_values: tuple[int, ...] = (0,)
    checks: bool = True
    runtime_top_k: bool = False


@dataclasses.dataclass(frozen=True)
class Signature:
    """One exported function.

    name: the signature key ("serving_default", "log_prob", ...).
    fn: a function of tensors (keyword arguments named as `inputs`) -> {output name: tensor}; traced
      once with `inputs` as its input signature.
    inputs: {name: tf.TensorSpec}; a None dimension is dynamic (batch, height, width).
    example: {name: np.ndarray} a small valid request (warm-up, tests, benchmarks).
    tflite: whether to write this signature as a .tflite file too.
    """

    name: str
    fn: Callable[..., dict[str, tf.Tensor]]
    inputs: dict[str, tf.TensorSpec]
    example: dict[str, np.ndarray]
    tflite: bool = False


def image_signatures(
    rng: np.random.Generator,
    resolution: int,
    serving_default: Callable[..., dict[str, tf.Tensor]],
    log_prob: Callable[..., dict[str, tf.Tensor]],
    log_prob_square: Callable[..., dict[str, tf.Tensor]] | None = None,
) -> list[Signature]:
    """The signatures every model exports on whole photos, with their example photo.

    serving_default: image uint8 [B, H, W, 1 or 3] (any shape) + SAMPLING_INPUTS; log_prob: image uint8
    (any shape); log_prob_square (when given; TFLite): image uint8 [B, R, R, 3], R = `resolution`.
    The example photo, uint8 [1, 3R/2, 2R, 3], is drawn from `rng` (the first draw the caller's other
    examples follow); log_prob_square's example is its top-left R x R corner.
    """
    u8 = tf.uint8
    r = resolution
    photo = rng.integers(0, 256, [1, 3 * r // 2, 2 * r, 3], dtype=np.uint8)
    sigs = [
        Signature(
            SERVING_DEFAULT,
            serving_default,
            {"image": tf.TensorSpec(None, u8), **SAMPLING_INPUTS},
            {"image": photo, **sampling_example()},
        ),
        Signature("log_prob", log_prob, {"image": tf.TensorSpec(None, u8)}, {"image": photo}),
    ]
    if log_prob_square is not None:
        square, corner = {"image": tf.TensorSpec([None, r, r, 3], u8)}, {"image": photo[:, :r, :r]}
        sigs.append(Signature("log_prob_square", log_prob_square, square, corner, tflite=True))
    return sigs


def gray_sampling_signature(
    name: str, fn: Callable[..., dict[str, tf.Tensor]], gray: np.ndarray
) -> Signature:
    """A TFLite signature that samples colourings of square grays: gray uint8 [B, S, S, 1] + SAMPLING_INPUTS,
    with `gray` (uint8 [1, S, S, 1]) as the example's gray."""
    inputs = {"gray": tf.TensorSpec([None, *gray.shape[1:]], tf.uint8), **SAMPLING_INPUTS}
    return Signature(name, fn, inputs, {"gray": gray, **sampling_example()}, tflite=True)


@dataclasses.dataclass(frozen=True)
class ExportSpec:
    """Everything the exporter writes for one model.

    model_name: the folder under the export base (TF Serving's model name).
    version: the numbered folder under it (TF Serving serves the highest).
    variables: every tf.Variable the signatures read (tracked explicitly: Keras 3 variables are not
      tf.Module attributes, and a SavedModel whose variables are untracked fails in the C++ loader).
    signatures: one of them named SERVING_DEFAULT.
    """

    model_name: str
    version: int
    variables: Sequence[tf.Variable]
    signatures: Sequence[Signature]

    def __post_init__(self) -> None:
        names = [s.name for s in self.signatures]
        if SERVING_DEFAULT not in names or len(set(names)) != len(names):
            raise ValueError(
                f"export/spec.py: signatures must be unique and include {SERVING_DEFAULT!r}, got {names}"
            )
        if self.version < 0:
            raise ValueError(f"export/spec.py: version must be >= 0, got {self.version}")

    def signature(self, name: str) -> Signature:
        for s in self.signatures:
            if s.name == name:
                return s
        raise KeyError(f"export/spec.py: no signature {name!r}; have {[s.name for s in self.signatures]}")


def model_variables(*models: Any) -> list[tf.Variable]:
    """The tf.Variables under Keras 3 models' weights, for `ExportSpec.variables`."""
    return [
        w.value if hasattr(w, "value") and isinstance(w.value, tf.Variable) else w
        for m in models
        for w in m.weights
    ]


def find_spec_builder(model: Any) -> Callable[..., ExportSpec]:
    """The `export_spec` function of the package that defines `model`'s class (see the module doc)."""
    package = type(model).__module__.split(".")[0]
    try:
        module = importlib.import_module(f"{package}.export_spec")
    except ModuleNotFoundError as e:
        raise ValueError(
            f"export: model {type(model).__name__} has no {package}/export_spec.py, so it cannot be exported"
        ) from e
    return module.export_spec
