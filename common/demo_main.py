"""colorize-demo: shows on real photos how much colour each model's output space keeps.

  colorize-demo --output=out/low_res_chroma.png                 # the photos shipped with the package
  colorize-demo --input=a.jpg,b.png --output=out/sheet.png      # your own photos

Writes one contact sheet (a row per photo); a file that cannot be read is reported and skipped.
"""

from __future__ import annotations

import sys

import numpy as np
from absl import flags

from common import cli

FLAGS = flags.FLAGS
flags.DEFINE_list("input", [], "Image files, comma-separated (default: the photos shipped with the package).")
flags.DEFINE_string("output", "out/low_res_chroma.png", "Where to write the contact sheet (PNG).")
flags.DEFINE_integer("max_side", 512, "Photos larger than this are area-downscaled first (speed only).")
flags.DEFINE_integer("max_photos", 8, "At most this many photos on the sheet.")


def _downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    from PIL import Image

    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BOX))


def main(argv: list[str]) -> int:
    del argv
    from common import contact_sheet, demo
    from common.data import bundled_photos, decode_image_file

    if FLAGS.input:
        photos = []
        for path in FLAGS.input:
            try:
                photos.append((path, decode_image_file(path)))
            except ValueError as e:  # one bad file never stops the batch
                print(f"skipped: {e}", file=sys.stderr)
    else:
        photos = bundled_photos()
    photos = photos[: FLAGS.max_photos]
    if not photos:
        cli.fail("no readable photo to show: pass --input=photo.jpg[,other.png]")
    rows = []
    for name, rgb in photos:
        rows.append(demo.figure_row(_downscale(rgb, FLAGS.max_side)))
        print(f"{name}: {rgb.shape[1]}x{rgb.shape[0]}")
    sheet = contact_sheet.contact_sheet(rows, labels=demo.COLUMN_LABELS)
    contact_sheet.write_png_atomic(sheet, FLAGS.output)
    print(f"wrote {FLAGS.output} ({len(rows)} photos)")
    return 0


def run() -> None:
    """`python -m common.demo_main` (the console script colorize-demo goes through common.cli)."""
    cli.run(main, __name__)


if __name__ == "__main__":
    run()
