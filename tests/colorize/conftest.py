"""Shared by the `colorize` tests: tiny ColTran stage work directories with random weights, made once per
session (form (a) of --weights), the model loaded from them, and small photos of every awkward kind."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "common" / "assets" / "photos"
STAGES = ("coltran_core", "coltran_color_upsampler", "coltran_spatial_upsampler")


@pytest.fixture(scope="session")
def workdirs(tmp_path_factory) -> str:
    """A folder of the three tiny stages (random weights, seed 0) as save_model_checkpoint writes them."""
    import keras

    from common.registry import build_model
    from common.train import load_config, save_model_checkpoint

    out = tmp_path_factory.mktemp("weights")
    keras.utils.set_random_seed(0)
    for stage in STAGES:
        config = load_config(str(REPO / "configs" / f"{stage}.py:tiny"))
        save_model_checkpoint(build_model(config), str(out / stage), 1, config=config)
    return str(out)


@pytest.fixture(scope="session")
def model(workdirs):
    from coltran.colorizer import load

    return load(workdirs)


def photo(height: int = 40, width: int = 60, seed: int = 0) -> np.ndarray:
    """A smooth colour test image uint8 [H, W, 3] (gradients plus a little noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [xx / max(width - 1, 1), yy / max(height - 1, 1), (xx + yy) / max(height + width - 2, 1)], -1
    )
    return np.clip(rgb * 255 + rng.normal(0, 8, rgb.shape), 0, 255).astype(np.uint8)


def bomb_png(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height (a few bytes on disk): decoding it would take GBs."""
    raw = io.BytesIO()
    Image.new("L", (8, 8)).save(raw, format="PNG")
    data = bytearray(raw.getvalue())
    ihdr = bytes(data[12:16]) + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def write_inputs(folder: Path) -> dict[str, Path]:
    """Every input kind of issue 12, good and bad, in `folder` -> {kind: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = photo()
    paths = {}

    def save(kind: str, name: str, img: Image.Image, **kw) -> None:
        paths[kind] = folder / name
        img.save(paths[kind], **kw)

    save("rgb_jpeg", "rgb.jpg", Image.fromarray(rgb), quality=95)
    save("gray_png", "gray.png", Image.fromarray(rgb).convert("L"))
    save("cmyk", "cmyk.jpg", Image.fromarray(rgb).convert("CMYK"))
    gray16 = (np.asarray(Image.fromarray(rgb).convert("L"), np.uint16) * 257).astype(np.uint16)
    save("16bit", "gray16.png", Image.fromarray(gray16))
    save("palette", "palette.png", Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=32))
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])
    save("rgba", "rgba.png", Image.fromarray(rgba))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    save("exif_rotated", "rotated.jpg", Image.fromarray(rgb), exif=exif.tobytes(), quality=95)
    save("1x1", "one.png", Image.fromarray(rgb[:1, :1]))
    paths["zero_bytes"] = folder / "empty.jpg"
    paths["zero_bytes"].write_bytes(b"")
    paths["text"] = folder / "notes.jpg"
    paths["text"].write_text("not an image\n")
    good = io.BytesIO()
    Image.fromarray(photo(120, 160)).save(good, format="JPEG")
    paths["truncated"] = folder / "truncated.jpg"
    paths["truncated"].write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    paths["bomb"] = folder / "bomb.png"
    bomb_png(paths["bomb"], 100_000, 100_000)
    return paths


GOOD = ("rgb_jpeg", "gray_png", "cmyk", "16bit", "palette", "rgba", "exif_rotated", "1x1")
BAD = ("zero_bytes", "text", "truncated", "bomb")


@pytest.fixture(scope="session")
def inputs_dir(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("inputs") / "album"
    return folder, write_inputs(folder)


def env_without_tf_log() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
