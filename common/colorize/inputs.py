"""`colorize INPUT...` arguments -> the images to colour, each with an output name of its own.

An argument is a file (taken whatever its extension), a folder (every image file below it, recursively,
by extension: common.data.decode.IMAGE_EXTENSIONS) or a glob (`photos/*.jpg`, `scans/**/*.tif`; quote it
so that the shell leaves it to us). Output names are relative paths without extension:
  a file `x/photo.jpg`        -> `photo`
  a folder `x/album`          -> `album/<path below album>` (`album/1950/photo`)
Names that would collide (photo.jpg and photo.png; two folders both called album) keep the extension
(`photo_jpg`) and, if still equal, get `-2`, `-3` in input order; the same file given twice is taken once.
Problems (a missing path, a glob that matches nothing, an unreadable folder) are returned as one line each
and do not stop the others.
"""

from __future__ import annotations

import dataclasses
import glob
import os

from common.data.decode import IMAGE_EXTENSIONS

_GLOB_CHARS = set("*?[")


@dataclasses.dataclass(frozen=True)
class Input:
    """One image to colour: its path and its output name (relative, "/"-separated, no extension)."""

    path: str
    name: str


def _walk(root: str, problems: list[str]) -> list[str]:
    """Image files below `root`, sorted; an unreadable folder adds a problem line and is skipped."""

    def onerror(e: OSError) -> None:
        problems.append(f"{e.filename or root}: cannot read folder ({e.strerror or type(e).__name__})")

    found = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        dirnames.sort()
        found += [os.path.join(dirpath, f) for f in filenames if f.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(found)


def _candidates(arg: str, problems: list[str]) -> list[tuple[str, str]]:
    """(path, name with extension) pairs of one argument."""
    if os.path.isdir(arg):
        base = os.path.basename(os.path.normpath(os.path.abspath(arg))) or "root"
        return [(p, base + "/" + os.path.relpath(p, arg).replace(os.sep, "/")) for p in _walk(arg, problems)]
    if os.path.exists(arg):
        return [(arg, os.path.basename(arg))]
    if _GLOB_CHARS & set(arg):
        matches = sorted(glob.glob(arg, recursive=True))
        if not matches:
            problems.append(f"{arg}: no file matches this pattern")
        out = []
        for m in matches:
            out += _candidates(m, problems)
        return out
    problems.append(f"{arg}: no such file or folder")
    return []


def _strip_ext(name: str) -> str:
    stem, ext = os.path.splitext(name)
    return stem if stem and not stem.endswith("/") else name


def collect(args: list[str]) -> tuple[list[Input], list[str]]:
    """Arguments -> (inputs in argument order, problem lines "<path>: <why>")."""
    problems: list[str] = []
    pairs, seen = [], set()
    for arg in args:
        for path, name in _candidates(arg, problems):
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                pairs.append((path, name))
    stems = [_strip_ext(n) for _, n in pairs]
    counts: dict[str, int] = {}
    for s in stems:
        counts[s] = counts.get(s, 0) + 1
    names = [
        s if counts[s] == 1 else s + "_" + os.path.splitext(n)[1].lstrip(".").lower()
        for s, (_, n) in zip(stems, pairs, strict=True)
    ]
    taken = {n.lower() for n in names}  # lower case: case-insensitive file systems
    used: set[str] = set()
    inputs = []
    for (path, _), name in zip(pairs, names, strict=True):
        unique, k = name, 1
        while unique.lower() in used or (k > 1 and unique.lower() in taken):
            k += 1
            unique = f"{name}-{k}"
        used.add(unique.lower())
        inputs.append(Input(path, unique))
    return inputs, problems
