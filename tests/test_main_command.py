"""README's main command, run as a newcomer runs it: a fresh virtual environment with only the extra README
names (no scikit-image, no test extras) and no photos on the machine but the ones the package ships."""

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

    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        ["bash", "-c", run], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = re.search(r"--output=(\S+)", run).group(1)
    sheet = np.asarray(Image.open(work / out))
    assert sheet.ndim == 3 and sheet.shape[0] > 4 * 64 and sheet.std() > 10  # rows of real photos
    assert re.search(r"wrote \S+ \(4 photos\)", result.stdout), result.stdout
    assert "Traceback" not in result.stderr and "cpu_feature_guard" not in result.stderr, result.stderr
