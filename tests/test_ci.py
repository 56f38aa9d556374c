"""`.ci/run` fails when no test ran (pytest's exit 5), and passes pytest's own status through otherwise."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _ci(*pytest_args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI_SKIP_INSTALL": "1"}
    return subprocess.run(
        ["bash", ".ci/run", *pytest_args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def test_ci_fails_when_no_test_is_selected():
    result = _ci("tests/test_readme.py", "-k", "no_test_has_this_name", "-p", "no:cacheprovider")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ran no test" in result.stderr


def test_ci_passes_when_tests_pass():
    result = _ci("tests/test_readme.py", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout
