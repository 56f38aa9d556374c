"""`python -m common.colorize_main` as a user runs it: killed with SIGKILL mid-run it leaves only whole
files and the rerun completes the rest; usage errors exit 2. (Three subprocesses: each imports TF.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from common.colorize import imageio
from tests.colorize.conftest import REPO, env_without_tf_log, photo


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "common.colorize_main", *args]


def test_killed_run_leaves_whole_files_and_the_rerun_completes(workdirs, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(photo(48 + 8 * i, 64, seed=i)).save(folder / f"p{i}.png")
    out = tmp_path / "out"
    args = _command(
        str(folder), f"--output={out}", f"--weights={workdirs}", "--num_samples=3", "--batch_size=1"
    )
    proc = subprocess.Popen(args, cwd=REPO, env=env_without_tf_log(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(out.rglob("*_sample0.png")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read()  # still running when the first output appeared
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = [p for p in out.rglob("*.png") if not p.name.startswith(".tmp-")]
    assert finished and len(finished) < 6 * 4
    for p in finished:  # every visible file is whole and has its provenance
        with Image.open(p) as img:
            img.load()
        assert imageio.read_provenance(str(p))["model"] == "coltran"
    done_before = {p.name for p in finished}

    rerun = subprocess.run(
        args, cwd=REPO, env=env_without_tf_log(), capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = rerun.stderr.strip().splitlines()[-1]
    skipped = int(summary.split(" skipped")[0].rsplit(" ", 1)[-1])
    complete_before = {n.split("_sheet")[0] for n in done_before if n.endswith("_sheet.png")}
    assert skipped == len(complete_before) and summary.startswith(f"colorize: {6 - skipped} done"), summary
    for i in range(6):
        for suffix in ("sample0", "sample1", "sample2", "sheet"):
            path = out / "scans" / f"p{i}_{suffix}.png"
            assert np.asarray(Image.open(path)).ndim == 3, path


def test_usage_errors_exit_2_with_one_line():
    result = subprocess.run(_command(), cwd=REPO, env=env_without_tf_log(), capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "colorize: error: no INPUT given: colorize PHOTO_OR_FOLDER... --output=DIR (see --help)"
    ]
