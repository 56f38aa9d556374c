"""common/colorize/inputs.py: files, folders, globs -> images with output names that never collide."""

from __future__ import annotations

import os

from common.colorize.inputs import collect


def _touch(path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return str(path)


def test_files_folders_and_globs(tmp_path):
    a = _touch(tmp_path / "a.jpg")
    _touch(tmp_path / "album" / "1950" / "b.png")
    _touch(tmp_path / "album" / "c.TIF")
    _touch(tmp_path / "album" / "readme.txt")  # not an image: folders take image extensions only
    _touch(tmp_path / "g" / "x.jpg")
    _touch(tmp_path / "g" / "y.jpg")
    found, problems = collect([a, str(tmp_path / "album"), str(tmp_path / "g" / "*.jpg")])
    assert problems == []
    assert [f.name for f in found] == ["a", "album/1950/b", "album/c", "x", "y"]
    assert found[0].path == a


def test_colliding_names_get_distinct_outputs(tmp_path):
    files = [_touch(tmp_path / "p.jpg"), _touch(tmp_path / "p.png"), _touch(tmp_path / "d" / "p.jpg")]
    files.append(_touch(tmp_path / "e" / "p_jpg-2.jpg"))  # already named as a suffixed duplicate would be
    files.append(_touch(tmp_path / "e" / "P.JPG"))  # no other output is named p or P
    found, _ = collect(files + [files[0]])  # the same file twice is taken once
    names = [f.name for f in found]
    assert len(found) == 5 and len(set(n.lower() for n in names)) == 5, names
    assert names == ["p_jpg", "p_png", "p_jpg-3", "p_jpg-2", "P"]


def test_missing_path_and_empty_glob_are_problems_not_stops(tmp_path):
    good = _touch(tmp_path / "ok.jpg")
    found, problems = collect([str(tmp_path / "missing.jpg"), good, str(tmp_path / "*.webp")])
    assert [f.path for f in found] == [good]
    assert len(problems) == 2
    assert "missing.jpg" in problems[0] and "no such file" in problems[0]
    assert "*.webp" in problems[1] and "no file matches" in problems[1]


def test_unreadable_folder_is_one_problem(tmp_path, monkeypatch):
    _touch(tmp_path / "album" / "ok.jpg")
    locked = tmp_path / "album" / "locked"
    _touch(locked / "secret.jpg")
    real_scandir = os.scandir

    def scandir(path="."):  # root reads through chmod 000, so the denial is simulated
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found, problems = collect([str(tmp_path / "album")])
    assert [f.name for f in found] == ["album/ok"]
    assert problems == [f"{locked}: cannot read folder (Permission denied)"]
