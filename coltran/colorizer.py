"""ColTran behind `colorize --model=coltran` (the protocol of common/colorize/protocol.py).

`load(weights)` takes, for `--weights`:
  (a) a folder holding the three stage work directories coltran_core/, coltran_color_upsampler/,
      coltran_spatial_upsampler/ (what colorize-train and colorize-import-coltran write);
  (b) an exported SavedModel (colorize-export): TF Serving's BASE/<name>/<version>/ layout (the highest
      version is used) or the version folder itself; its per-stage signatures are called;
  (c) the directory of the authors' released checkpoints (colorizer/, color_upsampler/,
      spatial_upsampler/, or coltran/<those>): imported once into a cache folder
      ($XDG_CACHE_HOME or ~/.cache)/colorize/coltran-authors/<hash of the path and its files>, then (a);
  None: the embedded default models at DEFAULT_WEIGHTS (form (a)).

Sampling (the same colourings from (a), (b) and (c) of the same weights): sample n of a photo is drawn
with the seed pair [image seed, n] as a batch of one would be (coltran/export_spec.py's `core`
signature), so it depends on neither the other photos nor the batch size. In-process, up to
`batch_size` (photo, sample) draws go through the core's fast sampler at once, each with its own noise;
the colour upsampler takes the same draws at once, the spatial upsampler one draw at a time (one R x R
image's activations). Core memory therefore grows with `batch_size`, never with num_samples (paper
config: about 268 MB of outer-decoder modulations per draw in the batch).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from coltran import sampler
from coltran.constants import NUM_COARSE_COLORS
from common.colorize.protocol import Draw, Job
from common.quantize import symbol_to_coarse
from common.sampling import hashed_uniform

DEFAULT_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "default")
STAGES = ("coltran_core", "coltran_color_upsampler", "coltran_spatial_upsampler")
AUTHORS_FOLDERS = ("colorizer", "color_upsampler", "spatial_upsampler")


class WeightsError(ValueError):
    """--weights names nothing loadable; the message is one line saying what was expected."""


# --------------------------------------------------------------------------------------------- sampling
def _per_draw_gumbel(seeds: tf.Tensor, row: tf.Tensor, width: int) -> tf.Tensor:
    """Gumbel noise [D, W, 512] of one row: draw d gets hashed_uniform([W, 512], seed=seeds[d], step=row),
    the noise `coltran.sampler.row_gumbel` gives a batch of one with that seed pair."""
    shape = tf.constant([width, NUM_COARSE_COLORS], tf.int32)
    u = tf.map_fn(
        lambda pair: hashed_uniform(shape, seed=pair, step=row),
        seeds,
        fn_output_signature=tf.TensorSpec([width, NUM_COARSE_COLORS], tf.float32),
    )
    return -tf.math.log(-tf.math.log(u))


_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def _noise_per_draw(seeds: tf.Tensor, used: list) -> Iterator[None]:
    """While a sampler is traced: `coltran.sampler.row_gumbel` gives each draw the noise of its own seed
    pair (the sampler's own noise numbers draws by their index in the batch)."""

    def row_gumbel(seed: Any, row: tf.Tensor, width: int, rows: Any) -> tf.Tensor:
        used.append(True)
        return _per_draw_gumbel(seeds, row, width)

    with _PATCH_LOCK:
        original = sampler.row_gumbel
        sampler.row_gumbel = row_gumbel
        try:
            yield
        finally:
            sampler.row_gumbel = original


class StageModels:
    """The three in-process stages: draws -> colourings, `batch_size` draws per core call."""

    def __init__(self, core: Any, color_up: Any, spatial_up: Any) -> None:
        self.core, self.color_up, self.spatial_up = core, color_up, spatial_up
        self.r, self.big = int(core.resolution), int(spatial_up.resolution)
        if int(color_up.resolution) != self.r or int(spatial_up.low_resolution) != self.r:
            raise WeightsError(
                f"coltran: stage resolutions disagree: core {self.r}, colour upsampler "
                f"{color_up.resolution}, spatial upsampler low_resolution {spatial_up.low_resolution}"
            )
        self._samplers: dict[int, Any] = {}

    def _sampler(self, top_k: int) -> Any:
        if top_k not in self._samplers:
            xla = bool(getattr(self.core, "jit_compile_sampler", False))

            def run(gray8: tf.Tensor, seeds: tf.Tensor, temperature: tf.Tensor) -> tuple[tf.Tensor, ...]:
                used: list = []
                with _noise_per_draw(seeds, used):
                    out = sampler._fast(
                        self.core,
                        gray8,
                        tf.zeros([2], tf.int32),
                        temperature,
                        num_samples=1,
                        top_k=top_k,
                        num_rows=self.r,
                        **({"xla": True} if xla else {}),
                    )
                if not used:
                    raise RuntimeError("coltran/colorizer.py: coltran.sampler no longer calls row_gumbel")
                return out

            # traced per draw count (the fast sampler needs a static batch): batch_size and the last chunk's
            self._samplers[top_k] = tf.function(run, jit_compile=xla, autograph=False)
        return self._samplers[top_k]

    def sample(
        self, gray_small: np.ndarray, gray_big: np.ndarray, seeds: np.ndarray, temperature: float, top_k: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """D draws at once: gray_small float32 [D, r, r], gray_big [D, R, R], seeds int32 [D, 2] -> yields
        per draw (rgb uint8 [R, R, 3], uncertainty float32 [r, r])."""
        small = tf.constant(gray_small[..., None], tf.float32)
        symbols, probs = self._sampler(int(top_k))(
            self.core.gray_levels(small), tf.constant(seeds, tf.int32), tf.constant(temperature, tf.float32)
        )
        low = self._color(small, symbol_to_coarse(symbols))  # [D, r, r, 3] 8-bit
        for d in range(len(seeds)):
            rgb = self._spatial(tf.constant(gray_big[d : d + 1, ..., None], tf.float32), low[d : d + 1])
            yield rgb.numpy().astype(np.uint8), probs[d].numpy()

    @tf.function(autograph=False)
    def _color(self, small: tf.Tensor, coarse: tf.Tensor) -> tf.Tensor:
        return self.color_up.sample(small, coarse=coarse, num_samples=1, temperature=0.0)["labels"][:, 0]

    @tf.function(autograph=False)
    def _spatial(self, big: tf.Tensor, low: tf.Tensor) -> tf.Tensor:
        return self.spatial_up.sample(big, low_res=low, num_samples=1, temperature=0.0)["labels"][0, 0]


class SavedModelStages:
    """The per-stage signatures of a colorize-export SavedModel (coltran/export_spec.py)."""

    def __init__(self, path: str) -> None:
        self.loaded = tf.saved_model.load(path)
        sigs = self.loaded.signatures
        missing = [s for s in ("core", "color_upsampler", "spatial_upsampler") if s not in sigs]
        if missing:
            raise WeightsError(
                f"--weights={path}: the SavedModel has no {missing} signatures (not ColTran's)"
            )
        self.core, self.color_up, self.spatial_up = (
            sigs["core"],
            sigs["color_upsampler"],
            sigs["spatial_upsampler"],
        )
        self.r = int(self.core.structured_input_signature[1]["gray"].shape[1])
        self.big = int(self.spatial_up.structured_input_signature[1]["gray"].shape[1])

    def sample_image(
        self,
        gray_small: np.ndarray,
        gray_big: np.ndarray,
        seed: int,
        num_samples: int,
        temperature: float,
        top_k: int,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One photo's num_samples draws (the export draws them one at a time with seed pairs [seed, n])."""
        small8 = _to_uint8(gray_small)[None, ..., None]
        out = self.core(
            gray=tf.constant(small8),
            num_samples=tf.constant(num_samples, tf.int32),
            seed=tf.constant(seed, tf.int32),
            temperature=tf.constant(temperature, tf.float32),
            top_k=tf.constant(top_k, tf.int32),
        )
        coarse, probs = out["coarse"][0], out["uncertainty"][0].numpy()  # [N, r, r, 3], [N, r, r]
        low = self.color_up(gray=tf.constant(np.repeat(small8, num_samples, axis=0)), coarse=coarse)["rgb"]
        big8 = tf.constant(_to_uint8(gray_big)[None, ..., None])
        for n in range(num_samples):
            rgb = self.spatial_up(gray=big8, low_res=low[n : n + 1])["rgb"][0]
            yield rgb.numpy(), probs[n]


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8 levels, rounded as common.quantize.to_8bit."""
    return np.clip(np.round(np.asarray(x, np.float32) * np.float32(255.0)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------- colorizer
class ColTranColorizer:
    """common.colorize.protocol.Colorizer for ColTran (either backend)."""

    name = "coltran"

    def __init__(self, stages: StageModels | SavedModelStages, weights: str) -> None:
        self.stages, self.weights = stages, weights
        self.input_sizes = (stages.r, stages.big)
        self._log_prob: Any = None

    @property
    def likelihood(self) -> str | None:
        """The event space of `bits_per_dim` (common/colorize/protocol.Likelihood); None for a SavedModel,
        whose signatures have no log_prob."""
        if not isinstance(self.stages, StageModels):
            return None
        r = self.stages.r
        return (
            f"ColTran core: {r}x{r} RGB at 3 bits per channel given the gray (central square crop, area "
            "resize; the upsamplers are not included)"
        )

    def bits_per_dim(self, images: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """uint8 [N, H, W, 3] photos -> float64 [N]: -log2 p(coarse colours | gray) / (r * r * 3) of the
        core (ColTran sec. 5), each photo preprocessed as in training (coltran/preprocessing.core_example)."""
        from coltran.preprocessing import core_example

        if self.likelihood is None:
            raise ValueError(f"coltran: {self.weights} is an exported SavedModel: it has no log_prob")
        r = self.stages.r
        if self._log_prob is None:
            self._log_prob = tf.function(self.stages.core.log_prob, autograph=False)
        out = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            exs = [core_example({"image": tf.constant(x)}, False, resolution=r) for x in chunk]
            batch = {k: tf.stack([e[k] for e in exs]) for k in ("gray", "rgb")}
            out.append(-self._log_prob(batch).numpy().astype(np.float64))
        return np.concatenate(out) / (r * r * 3 * np.log(2.0)) if out else np.zeros([0])

    def colorize(
        self, jobs: Sequence[Job], *, num_samples: int, temperature: float, top_k: int, batch_size: int
    ) -> Iterator[Draw]:
        r, big = self.input_sizes
        if isinstance(self.stages, SavedModelStages):
            for j, job in enumerate(jobs):
                draws = self.stages.sample_image(
                    job.grays[r], job.grays[big], job.seed, num_samples, temperature, top_k
                )
                for n, (rgb, prob) in enumerate(draws):
                    yield Draw(j, n, rgb, prob)
            return
        pairs = [(j, n) for j in range(len(jobs)) for n in range(num_samples)]
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            small = np.stack([jobs[j].grays[r] for j, _ in chunk])
            large = np.stack([jobs[j].grays[big] for j, _ in chunk])
            seeds = np.array([[jobs[j].seed, n] for j, n in chunk], np.int32)
            for (j, n), (rgb, prob) in zip(
                chunk, self.stages.sample(small, large, seeds, temperature, top_k), strict=True
            ):
                yield Draw(j, n, rgb, prob)


# ----------------------------------------------------------------------------------------------- loading
def _find_saved_model(path: str) -> str | None:
    """The SavedModel folder at `path`: itself, or the highest numbered version below BASE/<name>/ or
    <name>/ (TF Serving's layout)."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    found = []
    for depth_glob in ("*", os.path.join("*", "*")):
        for pb in glob.glob(os.path.join(path, depth_glob, "saved_model.pb")):
            version = os.path.basename(os.path.dirname(pb))
            if version.isdigit():
                found.append((int(version), os.path.dirname(pb)))
        if found:
            return max(found)[1]
    return None


def _is_authors_dir(path: str) -> bool:
    for base in (path, os.path.join(path, "coltran")):
        if os.path.isdir(base) and any(
            e.split("_v")[0] in AUTHORS_FOLDERS and os.path.isdir(os.path.join(base, e))
            for e in os.listdir(base)
        ):
            return True
    return False


def _cache_dir() -> str:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "colorize", "coltran-authors")


def import_authors_cached(authors_dir: str, cache_root: str | None = None) -> str:
    """The authors' checkpoints -> a folder of form (a), imported once: the cache key hashes the absolute
    path and every file's name, size and modification time, so changed checkpoints are imported again.
    The spatial upsampler's input resolution (not in their checkpoint) is the colour upsampler's."""
    from coltran.import_authors import AuthorsCheckpointError, _find_folder, import_component

    h = hashlib.sha256(os.path.abspath(authors_dir).encode())
    for dirpath, dirnames, filenames in os.walk(authors_dir):
        dirnames.sort()
        for f in sorted(filenames):
            full = os.path.join(dirpath, f)
            st = os.stat(full)
            h.update(f"{os.path.relpath(full, authors_dir)}:{st.st_size}:{st.st_mtime_ns};".encode())
    target = os.path.join(cache_root or _cache_dir(), h.hexdigest()[:16])
    if all(os.path.isfile(os.path.join(target, s, "config.json")) for s in STAGES):
        return target
    found = {c: _find_folder(authors_dir, c) for c in AUTHORS_FOLDERS}
    missing = [c for c, f in found.items() if f is None]
    if missing:
        raise WeightsError(f"--weights={authors_dir}: the authors' checkpoint folders {missing} are missing")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=".importing-")
    try:
        import_component("colorizer", found["colorizer"], os.path.join(tmp, STAGES[0]))
        import_component("color_upsampler", found["color_upsampler"], os.path.join(tmp, STAGES[1]))
        with open(os.path.join(tmp, STAGES[1], "config.json")) as f:
            low = int(json.load(f)["model"]["resolution"])
        import_component(
            "spatial_upsampler", found["spatial_upsampler"], os.path.join(tmp, STAGES[2]), low_resolution=low
        )
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except AuthorsCheckpointError as e:
        raise WeightsError(f"--weights={authors_dir}: {e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _load_workdirs(path: str) -> StageModels:
    from export.export import load_run

    models = {}
    for stage in STAGES:
        name, model, _ = load_run(os.path.join(path, stage))
        if name != stage:
            raise WeightsError(f"--weights={path}: {stage}/ holds a {name!r} model")
        models[stage] = model
    return StageModels(*(models[s] for s in STAGES))


def load(weights: str | None) -> ColTranColorizer:
    """--weights (see the module docstring) -> a ColTranColorizer. Raises WeightsError (one line)."""
    if weights is None:
        if not all(os.path.isfile(os.path.join(DEFAULT_WEIGHTS, s, "config.json")) for s in STAGES):
            raise WeightsError(
                f"no default ColTran models in this install ({DEFAULT_WEIGHTS} is missing or incomplete); "
                "pass --weights=<a folder of the work directories coltran_core/, coltran_color_upsampler/, "
                "coltran_spatial_upsampler/; an exported SavedModel; or the authors' checkpoint folder>"
            )
        return ColTranColorizer(_load_workdirs(DEFAULT_WEIGHTS), f"default: {DEFAULT_WEIGHTS}")
    path = os.path.abspath(os.path.expanduser(weights))
    if not os.path.isdir(path):
        raise WeightsError(f"--weights={weights}: no such folder")
    if all(os.path.isdir(os.path.join(path, s)) for s in STAGES):
        try:
            return ColTranColorizer(_load_workdirs(path), path)
        except (FileNotFoundError, ValueError) as e:
            raise WeightsError(f"--weights={weights}: {e}") from None
    saved = _find_saved_model(path)
    if saved:
        return ColTranColorizer(SavedModelStages(saved), saved)
    if _is_authors_dir(path):
        return ColTranColorizer(_load_workdirs(import_authors_cached(path)), f"authors: {path}")
    raise WeightsError(
        f"--weights={weights}: neither the three work directories {', '.join(STAGES)}, nor an exported "
        f"SavedModel (saved_model.pb), nor the authors' checkpoints ({', '.join(AUTHORS_FOLDERS)})"
    )
