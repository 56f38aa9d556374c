"""int8 (dynamic-range) vs float32 .tflite files of one export, signature by signature, on real photos.

    colorize-export --workdir=pixcolor/assets/default/pixcolor \\
      --workdir=pixcolor/assets/default/pixcolor_refinement --out=/tmp/e --tflite_dir=/tmp/e/tflite
    python benchmarks/tflite_int8_parity.py --tflite_dir=/tmp/e/tflite --photos=~/colorize_photos/heldout

For every `<signature>.float32.tflite` with an `.int8.tflite` beside it, both run (ai_edge_litert, as a
phone would) on each photo's central square, area-resized to the signature's size, at temperature 0 (the
most likely draw: deterministic, so the two files are compared on the same decoding) with num_samples 1,
seed 0, top_k 0. A `bins` input (PixColor's `refine`) is fed the float32 `sample_chroma`'s bins, so each
stage is compared alone. Printed per signature and output: the mean absolute difference and the share of
values equal (bins) or within 2 levels (rgb images; none for float outputs), and the file sizes.
"""

from __future__ import annotations

import argparse
import glob
import os

import numpy as np
from PIL import Image


def _photo(path: str, size: int, channels: int) -> np.ndarray:
    img = Image.open(path).convert("RGB" if channels == 3 else "L")
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    arr = np.asarray(img.resize((size, size), Image.Resampling.BOX), np.uint8)
    return arr.reshape(1, size, size, channels)


def _inputs(runner, photo: str, bins: np.ndarray | None) -> dict[str, np.ndarray]:
    feed = {}
    for name, detail in runner.get_input_details().items():
        shape, dtype = detail["shape"], detail["dtype"]
        if name in ("gray", "image"):
            feed[name] = _photo(photo, int(shape[1]), int(shape[3]))
        elif name == "bins":
            feed[name] = bins
        elif name == "num_samples":
            feed[name] = np.array(1, dtype)
        else:  # seed, temperature, top_k
            feed[name] = np.zeros(shape, dtype)
    return feed


def main() -> None:
    from ai_edge_litert.interpreter import Interpreter

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflite_dir", required=True)
    parser.add_argument("--photos", default="~/colorize_photos/heldout")
    args = parser.parse_args()
    photos = sorted(glob.glob(os.path.join(os.path.expanduser(args.photos), "*")))
    names = sorted(
        os.path.basename(p)[: -len(".float32.tflite")]
        for p in glob.glob(os.path.join(args.tflite_dir, "*.float32.tflite"))
        if os.path.exists(p.replace(".float32.", ".int8."))
    )
    chroma_bins = {}  # photo -> the float32 sample_chroma's bins, for `refine`
    if "sample_chroma" in names:  # first, so refine can read its bins
        names.remove("sample_chroma")
        names.insert(0, "sample_chroma")
    for name in names:
        files = {q: os.path.join(args.tflite_dir, f"{name}.{q}.tflite") for q in ("float32", "int8")}
        runners = {q: Interpreter(model_path=f).get_signature_runner(name) for q, f in files.items()}
        sizes = {q: os.path.getsize(f) / 2**20 for q, f in files.items()}
        stats: dict[str, list] = {}
        for photo in photos:
            feed = _inputs(runners["float32"], photo, chroma_bins.get(photo))
            out = {q: r(**feed) for q, r in runners.items()}
            if name == "sample_chroma":
                chroma_bins[photo] = out["float32"]["bins"][:, 0]
            for key, a in out["float32"].items():
                tolerance = 2 if key == "rgb" else 0 if a.dtype.kind in "iu" else None  # floats: no share
                a, b = a.astype(np.float64), out["int8"][key].astype(np.float64)
                share = np.nan if tolerance is None else (np.abs(a - b) <= tolerance).mean()
                stats.setdefault(key, []).append((np.abs(a - b).mean(), share))
        print(f"{name}: float32 {sizes['float32']:.1f} MB, int8 {sizes['int8']:.1f} MB "
              f"({sizes['int8'] / sizes['float32']:.2f}), {len(photos)} photos")
        for key, rows in stats.items():
            mean = np.mean(rows, axis=0)
            label = "within 2 levels" if key == "rgb" else "equal"
            share = "" if np.isnan(mean[1]) else f", {label} {mean[1]:.3f}"
            print(f"  {key}: mean |int8 - float32| {mean[0]:.4g}{share}")


if __name__ == "__main__":
    main()
