"""Photos as (name, uint8 [H, W, 3]) lists: the package's own fixed set, and what a machine happens to have.

bundled_photos()   the four colour photos shipped in common/assets/photos (astronaut, chelsea, coffee,
                   rocket; see its SOURCES.md): the same on every machine, so tiny configs and tests
                   that read them are reproducible (data.source = "bundled").
system_photos()    opt-in (data.source = "system_photos"): scikit-image's colour photos when it is
                   installed, plus photographic wallpapers under /usr/share/{backgrounds,wallpapers};
                   what it returns depends on the machine's packages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np
from absl import logging
from PIL import Image

from common.data.decode import ImageDecodeError, _warn_once, decode_image_file, list_image_files

PHOTOS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets", "photos")
# The fixed colour set, sorted (camera.jpg in the same folder is a black-and-white photo: not in it).
BUNDLED_PHOTOS = ("astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg")
# scikit-image's colour photographs, shipped inside that package (no download).
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")
WALLPAPER_DIRS = ("/usr/share/backgrounds", "/usr/share/wallpapers")
_WALLPAPER_MIN_SIDE = 256  # smaller files there are icons / previews, not photographs
_RESOLUTION_NAME = re.compile(r"^(\d+)x(\d+)\.\w+$")


def bundled_photos() -> list[tuple[str, np.ndarray]]:
    """The package's four colour photos, (file name, uint8 [H, W, 3]) in BUNDLED_PHOTOS order.

    astronaut 512x512, chelsea 451x300, coffee 600x400, rocket 640x427 (W x H). A missing file means a
    broken install: FileNotFoundError naming it.
    """
    photos = []
    for fname in BUNDLED_PHOTOS:
        path = os.path.join(PHOTOS_DIR, fname)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"bundled photo {path} is missing: reinstall the package (pip install .)")
        photos.append((fname, decode_image_file(path)))
    return photos


def _skimage_photos() -> list[tuple[str, np.ndarray]]:
    try:
        import skimage.data
    except ImportError:
        logging.warning("scikit-image is not installed: no skimage photos in system_photos")
        return []
    data_dir = os.path.dirname(skimage.data.__file__)
    photos = []
    for fname in SKIMAGE_PHOTOS:
        path = os.path.join(data_dir, fname)
        try:
            photos.append((f"skimage/{fname}", decode_image_file(path)))
        except (ImageDecodeError, FileNotFoundError) as e:
            _warn_once(str(e))
    return photos


def _one_resolution_per_folder(files: list[str], max_pixels: int) -> list[str]:
    """KDE Plasma ships each wallpaper as <name>/contents/images/<W>x<H>.<ext> in many sizes: keep one.

    Per folder, of the files named <W>x<H>.<ext> keep the largest with W*H <= max_pixels (else the
    smallest); other files are all kept.
    """
    by_folder: dict[str, list[tuple[int, str]]] = {}
    kept = []
    for rel in files:
        m = _RESOLUTION_NAME.match(os.path.basename(rel))
        if m:
            by_folder.setdefault(os.path.dirname(rel), []).append((int(m.group(1)) * int(m.group(2)), rel))
        else:
            kept.append(rel)
    for sizes in by_folder.values():
        fitting = [x for x in sizes if x[0] <= max_pixels]
        kept.append(max(fitting)[1] if fitting else min(sizes)[1])
    return sorted(kept)


def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """Antialiased downscale so the long side is at most max_side (aspect ratio kept)."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)


def _wallpapers(dirs: Sequence[str], max_side: int) -> list[tuple[str, np.ndarray]]:
    photos = []
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for rel in _one_resolution_per_folder(list_image_files(d), max_pixels=1920 * 1200):
            try:
                image = decode_image_file(os.path.join(d, rel))
            except ImageDecodeError as e:
                _warn_once(str(e))
                continue
            if min(image.shape[:2]) >= _WALLPAPER_MIN_SIDE:
                photos.append((f"{os.path.basename(d)}/{rel}", _shrink(image, max_side)))
    return photos


def system_photos(
    wallpaper_dirs: Sequence[str] = WALLPAPER_DIRS, max_side: int = 1024
) -> list[tuple[str, np.ndarray]]:
    """Colour photos that this machine's packages ship: (name, uint8 [H, W, 3]), in a fixed order.

    scikit-image's astronaut, chelsea, coffee, rocket and motorcycle_left (read from its package folder,
    never downloaded; at most 741 px), then every image at least 256 px on its short side under
    `wallpaper_dirs` (Debian's mate-backgrounds, lomiri-wallpapers, plasma-workspace-wallpapers install
    there), sorted, one size per multi-resolution Plasma wallpaper, shrunk (antialiased) so the long side
    is at most `max_side` to bound memory. Every call decodes them again.
    """
    return _skimage_photos() + _wallpapers(wallpaper_dirs, max_side)
