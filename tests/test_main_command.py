"""README's main command, run as a newcomer runs it: a fresh virtual environment with only the extra README
names (no scikit-image, no test extras), the photo and the default models the package ships."""

from __future__ import annotations

import os
import re
import subprocess
import venv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def _main_command() -> tuple[str, str]:
    """(install, run) halves of README's main command."""
    text = (REPO / "README.md").read_text()
    command = next(
        b.strip()
        for b in re.findall(r"```\n(.*?)```", text, flags=re.S)
        if "pytest" not in b and "pip install" in b
    )
    install, run = command.split(" && ", 1)
    assert install == 'pip install -e ".[cpu]"', install
    return install, run


@pytest.mark.slow
def test_readme_main_command_in_a_fresh_venv(tmp_path):
    install, run = _main_command()
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
        HOME=str(tmp_path / "home"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run(
        ["bash", "-c", install], cwd=REPO, env=env, capture_output=True, text=True, timeout=1200
    )
    assert done.returncode == 0, done.stderr[-3000:]
    python = str(bin_dir / "python")
    assert subprocess.run([python, "-c", "import skimage"], env=env, capture_output=True).returncode != 0
    assert subprocess.run([python, "-c", "import pytest"], env=env, capture_output=True).returncode != 0

    # README runs it from the checkout (the photo's path is relative to it); the output goes to tmp_path
    out = re.search(r"--output=(\S+)", run).group(1)
    run = run.replace(f"--output={out}", f"--output={tmp_path / 'out'}")
    result = subprocess.run(
        ["bash", "-c", run], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "cpu_feature_guard" not in result.stderr, result.stderr
    assert re.search(r"1 done, 0 skipped \(outputs exist\), 0 failed", result.stderr), result.stderr
    photo = re.search(r"colorize (\S+)", run).group(1)
    stem = Path(photo).stem
    gray = np.asarray(Image.open(REPO / photo).convert("L"), np.float64)
    samples = [np.asarray(Image.open(tmp_path / "out" / f"{stem}_sample{n}.png")) for n in range(4)]
    for rgb in samples:
        assert rgb.shape == (*gray.shape, 3)  # the photo's own size
        luma = rgb.astype(np.float64) @ [0.299, 0.587, 0.114]
        assert np.abs(luma - gray).mean() < 2.0  # its own luminance
        chroma = np.abs(rgb.astype(np.float64) - luma[..., None]).mean()
        assert chroma > 2.0  # coloured, not gray
    assert not np.array_equal(samples[0], samples[1])  # different colourings
    with Image.open(tmp_path / "out" / f"{stem}_sample0.png") as im:
        assert "default" in im.text["colorize"]  # provenance: the embedded default models
    sheet = np.asarray(Image.open(tmp_path / "out" / f"{stem}_sheet.png"))
    assert sheet.ndim == 3 and sheet.shape[1] > 4 * sheet.shape[0] // 2
