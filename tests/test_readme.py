"""README's two commands are the ones CI runs and the ones the package provides."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [b.strip() for b in re.findall(r"```\n(.*?)```", text, flags=re.S)]


def test_ci_runs_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    install = re.search(r"^INSTALL='(.*)'$", ci, flags=re.M).group(1)
    tests = re.search(r"^TESTS='(.*)'$", ci, flags=re.M).group(1)
    assert f"{install} && {tests}" in _readme_commands()


def test_readme_main_command_names_an_installed_console_script() -> None:
    setup = (ROOT / "setup.py").read_text()
    main = next(c for c in _readme_commands() if "pip install" in c and "pytest" not in c)
    script = main.split(" && ", 1)[1].split()[0]
    assert script.startswith("colorize"), main
    assert re.search(rf'"{script}=([\w.]+):(\w+)"', setup), f"{script} is not a console script in setup.py"
