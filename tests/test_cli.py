"""What a newcomer meets first: `--help`, one-line errors, `~` in paths, no TensorFlow, quiet start-up."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from common import cli

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "common" / "assets" / "photos"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # CI sets it; users do not
    env.update(extra)
    return env


def _script(name: str, *args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    """Runs the installed console script `name` (as README installs it), else its launcher in-process."""
    exe = shutil.which(name)
    entry = {"colorize-train": "train", "colorize-demo": "demo"}.get(name, name)
    cmd = (
        [exe]
        if exe
        else [
            sys.executable,
            "-c",
            f"import sys; from common import cli; sys.argv[0] = {name!r}; cli.{entry}()",
        ]
    )
    return subprocess.run(
        cmd + list(args), cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=300
    )


def _own_flags(module: str) -> list[str]:
    """The flags a script module defines, read from its source (independent of absl's registry)."""
    source = (REPO / (module.replace(".", "/") + ".py")).read_text()
    names = re.findall(r"DEFINE_\w+\(\s*\"(\w+)\"", source)
    assert names, module
    return names


def test_every_console_script_goes_through_the_launcher():
    setup = (REPO / "setup.py").read_text()
    entries = dict(re.findall(r'"(colorize(?:-[\w-]+)?)=([\w.:]+)"', setup))
    assert set(entries) == set(cli.SCRIPTS), entries
    for script, target in entries.items():
        module, attr = target.split(":")
        assert module == "common.cli" and getattr(cli, attr).script == script, target


@pytest.mark.parametrize("name", sorted(cli.SCRIPTS))
def test_help_lists_the_scripts_own_flags(name):
    short = _script(name, "--help")
    assert short.returncode == 0, short.stderr
    for flag in _own_flags(cli.SCRIPTS[name]):
        assert f"--{flag}:" in short.stdout or f"--[no]{flag}:" in short.stdout, (name, flag, short.stdout)
    assert "--verbosity" not in short.stdout  # absl's own flags stay in --helpfull
    if name in ("colorize-train", "colorize-demo"):
        full = _script(name, "--helpfull")
        assert full.returncode == 0 and "--verbosity" in full.stdout


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return lines[0]


def test_missing_config_file_is_one_line_naming_it(tmp_path):
    line = _one_line_error(
        _script("colorize-train", "--config=configs/does_not_exist.py", f"--workdir={tmp_path}/w")
    )
    assert line.startswith("colorize-train: error:") and "configs/does_not_exist.py" in line


def test_unknown_config_variant_and_key_are_one_line(tmp_path):
    line = _one_line_error(
        _script("colorize-train", "--config=configs/toy.py:bogus", f"--workdir={tmp_path}/w")
    )
    assert "bogus" in line and "tiny" in line  # names the bad variant and the choices
    line = _one_line_error(
        _script(
            "colorize-train",
            "--config=configs/toy.py:tiny",
            f"--workdir={tmp_path}/w",
            "--config.train.bogus=3",
        )
    )
    assert "--config.train.bogus" in line


def test_missing_required_flag_is_one_line():
    line = _one_line_error(_script("colorize-train", "--config=configs/toy.py:tiny"))
    assert "--workdir" in line


def test_expand_user_paths(monkeypatch):
    monkeypatch.setenv("HOME", "/home/me")
    assert cli.expand_user_paths(
        ["prog", "--config.data.folder=~/photos", "--input=~/a.jpg,b.jpg,~/c.png", "--seed=~", "pos~"]
    ) == [
        "prog",
        "--config.data.folder=/home/me/photos",
        "--input=/home/me/a.jpg,b.jpg,/home/me/c.png",
        "--seed=/home/me",
        "pos~",
    ]


@pytest.mark.slow
def test_tilde_in_readme_fine_tune_folder_flag_trains(tmp_path):
    """README's `--config.data.folder=~/photos` (the shell does not expand `~` after `=`)."""
    home = tmp_path / "home"
    shutil.copytree(PHOTOS, home / "photos", ignore=shutil.ignore_patterns("*.md"))
    result = _script(
        "colorize-train",
        "--config=configs/toy.py:tiny",
        "--workdir=~/runs/toy",
        "--config.data.source=folder",
        "--config.data.folder=~/photos",
        "--config.data.train_split=train",
        "--config.train.num_steps=2",
        "--config.train.steps_per_call=1",
        HOME=str(home),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (home / "runs" / "toy" / "config.json").exists()  # `--workdir=~/...` expanded too
    assert not (REPO / "~").exists()


def test_no_tensorflow_says_which_extra_to_install():
    code = (
        "import sys; sys.modules['tensorflow'] = None; sys.argv = ['colorize-train', '--help']; "
        "from common import cli; cli.train()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"colorize-train: error: {cli.INSTALL_HINT}"]
    assert '".[cpu]"' in cli.INSTALL_HINT


def test_startup_is_quiet_without_tf_cpp_min_log_level(tmp_path):
    result = _script("colorize-demo", f"--input={PHOTOS / 'chelsea.jpg'}", f"--output={tmp_path / 's.png'}")
    assert result.returncode == 0, result.stderr
    for noise in ("cpu_feature_guard", "oneDNN", "absl::InitializeLog", "rebuild TensorFlow"):
        assert noise not in result.stderr, result.stderr


def test_packaging_files():
    assert (
        "Apache License" in (REPO / "LICENSE").read_text() and "Version 2.0" in (REPO / "LICENSE").read_text()
    )
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'build-backend = "setuptools.build_meta"' in pyproject
    assert "/runs/" in (REPO / ".gitignore").read_text().split()
