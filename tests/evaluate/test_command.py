"""The console script: a bad --data is one line naming it (exit 2), before any model is loaded."""

from __future__ import annotations

import subprocess
import sys

from tests.colorize.conftest import REPO, env_without_tf_log


def test_bad_data_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "common.evaluate_main", f"--data={tmp_path}/nope", f"--output={tmp_path}/out"],
        cwd=REPO, env=env_without_tf_log(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("colorize-evaluate: error: --data=") and "nope" in lines[0]
