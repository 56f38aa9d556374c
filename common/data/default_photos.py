"""The photo set the embedded default models are trained on, and its held-out part, from files that
Debian's wallpaper packages and scikit-image ship (nothing is downloaded here).

    apt-get download mate-backgrounds lomiri-wallpapers-16.04 plasma-workspace-wallpapers
    for f in *.deb; do dpkg-deb -x "$f" debs; done          # no install needed; or use --root=/ if installed
    python -m common.data.default_photos --root=debs --out=~/colorize_photos

writes `OUT/train/*.png` (33 photos) and `OUT/heldout/*.png` (8), each shrunk (antialiased) so that its long
side is at most `--max_side` (768: decoding stays cheap, and a 256x256 crop still fits in every photo).
The lists below were chosen by eye from those packages: photographs only (the abstract and rendered
wallpapers are left out). The held-out set is the package's four bundled photos (the ones README's main
command colours, so that demo shows photos the models never saw) and four wallpapers; they never enter
training.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import numpy as np
from PIL import Image

from common.data.photos import BUNDLED_PHOTOS, PHOTOS_DIR

# Paths relative to the root the packages were extracted to (or installed in, root "/").
_LOMIRI_MATE = "usr/share/backgrounds"
_PLASMA = "usr/share/wallpapers"
TRAIN_WALLPAPERS = (
    f"{_LOMIRI_MATE}/Bridge_by_Sander_Klootwijk.jpg",
    f"{_LOMIRI_MATE}/Dragonfly_by_Bolly.jpg",
    f"{_LOMIRI_MATE}/Picture_0B_by_freespace.jpg",
    f"{_LOMIRI_MATE}/Picture_1A_by_freespace.jpg",
    f"{_LOMIRI_MATE}/Wine_by_Jakkub_Mede.jpg",
    f"{_LOMIRI_MATE}/free_by_Peter_Nerlich.jpg",
    f"{_LOMIRI_MATE}/friends_by_Aitzol_Berasategi.jpg",
    f"{_LOMIRI_MATE}/life_by_Aitzol_Berasategi.jpg",
    f"{_LOMIRI_MATE}/picosdeeuropa_by_Aitzol_Berasategi.jpg",
    f"{_LOMIRI_MATE}/seeding_by_Clements_Engelhardt.jpg",
    f"{_LOMIRI_MATE}/sunset_by_Aitzol_Berasategi.jpg",
    f"{_LOMIRI_MATE}/mate/nature/Aqua.jpg",
    f"{_LOMIRI_MATE}/mate/nature/Blinds.jpg",
    f"{_LOMIRI_MATE}/mate/nature/Dune.jpg",
    f"{_LOMIRI_MATE}/mate/nature/FreshFlower.jpg",
    f"{_LOMIRI_MATE}/mate/nature/Garden.jpg",
    f"{_LOMIRI_MATE}/mate/nature/GreenMeadow.jpg",
    f"{_LOMIRI_MATE}/mate/nature/RainDrops.jpg",
    f"{_LOMIRI_MATE}/mate/nature/Storm.jpg",
    f"{_LOMIRI_MATE}/mate/nature/TwoWings.jpg",
    f"{_LOMIRI_MATE}/mate/nature/Wood.jpg",
    f"{_LOMIRI_MATE}/mate/nature/YellowFlower.jpg",
    f"{_PLASMA}/BytheWater",
    f"{_PLASMA}/ColdRipple",
    f"{_PLASMA}/ColorfulCups",
    f"{_PLASMA}/DarkestHour",
    f"{_PLASMA}/FallenLeaf",
    f"{_PLASMA}/Grey",
    f"{_PLASMA}/Kite",
    f"{_PLASMA}/Path",
    f"{_PLASMA}/Volna",
    f"{_PLASMA}/summer_1am",
)
HELDOUT_WALLPAPERS = (
    f"{_LOMIRI_MATE}/aitzgorri_by_Aitzol_Berasategi.jpg",
    f"{_LOMIRI_MATE}/mate/nature/LadyBird.jpg",
    f"{_PLASMA}/EveningGlow",
    f"{_PLASMA}/OneStandsOut",
)
# scikit-image's photos not among the bundled ones (which are scikit-image's too, and held out).
TRAIN_SKIMAGE = ("motorcycle_left.png",)
MAX_SIDE = 768


def _plasma_file(folder: str) -> str:
    """A Plasma wallpaper folder -> its largest landscape image under contents/images (one per photo)."""
    images = os.path.join(folder, "contents", "images")
    if not os.path.isdir(images):
        raise FileNotFoundError(f"{folder}: no contents/images (is plasma-workspace-wallpapers extracted?)")
    best, best_px = "", -1
    for name in sorted(os.listdir(images)):
        stem = os.path.splitext(name)[0]
        try:
            w, h = (int(v) for v in stem.split("x"))
        except ValueError:
            continue
        if w >= h and w * h > best_px:
            best, best_px = os.path.join(images, name), w * h
    if not best:
        raise FileNotFoundError(f"{images}: no WIDTHxHEIGHT image")
    return best


def resolve(root: str, rel: str) -> str:
    path = os.path.join(root, rel)
    return _plasma_file(path) if rel.startswith(_PLASMA) else path


def _skimage_file(name: str) -> str:
    import skimage.data  # optional: scikit-image ships these files inside its package

    return os.path.join(os.path.dirname(skimage.data.__file__), name)


def _shrunk(path: str, max_side: int) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = None  # trusted package files, some 5120x2880
    with Image.open(path) as im:
        im.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale when possible
        im = im.convert("RGB")
    scale = max_side / max(im.size)
    if scale < 1:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
    return im


def _name(rel: str) -> str:
    base = os.path.basename(rel)
    return os.path.splitext(base)[0] + ".png"


def sources(root: str) -> dict[str, list[tuple[str, str]]]:
    """{"train": [(output name, source path)], "heldout": [...]}; FileNotFoundError names a missing one."""
    train = [(_name(r), resolve(root, r)) for r in TRAIN_WALLPAPERS]
    train += [(_name(n), _skimage_file(n)) for n in TRAIN_SKIMAGE]
    held = [(_name(r), resolve(root, r)) for r in HELDOUT_WALLPAPERS]
    held += [(_name(n), os.path.join(PHOTOS_DIR, n)) for n in BUNDLED_PHOTOS]
    out = {"train": train, "heldout": held}
    missing = [p for pairs in out.values() for _, p in pairs if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"{len(missing)} photos missing, e.g. {missing[0]}")
    return out


def prepare(root: str, out: str, max_side: int = MAX_SIDE) -> dict[str, int]:
    """Writes OUT/train and OUT/heldout (PNG, long side <= max_side); returns the count per split."""
    counts = {}
    for split, pairs in sources(root).items():
        d = os.path.join(out, split)
        os.makedirs(d, exist_ok=True)
        for name, path in pairs:
            _shrunk(path, max_side).save(os.path.join(d, name))
        counts[split] = len(pairs)
    return counts


def main(argv: Sequence[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m common.data.default_photos", description=__doc__.splitlines()[0]
    )
    p.add_argument("--root", default="/", help="where the Debian packages were extracted (or / if installed)")
    p.add_argument("--out", required=True, help="output folder (train/ and heldout/ are made in it)")
    p.add_argument("--max_side", type=int, default=MAX_SIDE)
    a = p.parse_args(argv)
    try:
        counts = prepare(os.path.expanduser(a.root), os.path.expanduser(a.out), a.max_side)
    except (FileNotFoundError, OSError) as e:
        print(f"default_photos: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {counts['train']} training and {counts['heldout']} held-out photos under {a.out}")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(sys.argv[1:]))
