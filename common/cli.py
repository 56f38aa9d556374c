"""What every console script shares: quiet start-up, one-line errors, `--help` that lists the script's flags.

Console scripts point at `launcher(module)` entries below (setup.py), which run before TensorFlow is
imported, so they can
  - say how to install TensorFlow when it is missing (plain `pip install -e .` installs none: TensorFlow
    comes with the `cpu` / `gpu` / `tpu` extra);
  - silence TensorFlow's C++ start-up log (oneDNN and CPU-instruction lines) unless TF_CPP_MIN_LOG_LEVEL
    is set;
  - expand `~` in `--flag=~/path` values, which the shell leaves alone after `=`;
  - turn flag and config errors (a missing config file, an unknown variant or key) into one line.
Each script module defines its absl flags and `main(argv)`; `python -m <module>` goes through `run` too.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable

INSTALL_HINT = (
    "TensorFlow is not installed. Install the package with the extra for your machine: "
    'pip install -e ".[cpu]" (or ".[gpu]", ".[tpu]")'
)


# Console script -> module; `python -m <module>` reports errors under the script's name too.
SCRIPTS = {
    "colorize": "common.colorize_main",
    "colorize-train": "common.train_main",
    "colorize-demo": "common.demo_main",
    "colorize-import-coltran": "coltran.import_main",
    "colorize-import-pic": "pic.import_main",
    "colorize-export": "export.export_main",
    "colorize-client": "export.client_main",
    "colorize-tflite": "export.tflite_main",
    "colorize-evaluate": "common.evaluate_main",
}
WITHOUT_TENSORFLOW = ("colorize-tflite",)  # runs a .tflite as a phone would: ai_edge_litert, numpy, Pillow
_prog: list[str] = []  # set by `run`


def prog_name() -> str:
    if _prog:
        return _prog[0]
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "colorize"


def fail(message: str, code: int = 1) -> None:
    """Prints `<prog>: error: <message>` (one line) to stderr and exits with `code`."""
    first = " ".join(str(message).split())
    print(f"{prog_name()}: error: {first}", file=sys.stderr)
    sys.exit(code)


# Lines TensorFlow's libraries print while they load. On CPUs where oneDNN is on by default (AVX512_BF16,
# AMX...) TF 2.21 writes "oneDNN custom operations are on" through absl's pre-initialisation logging,
# straight to stderr, whatever TF_CPP_MIN_LOG_LEVEL says: `require_tensorflow` drops these lines.
_STARTUP_NOISE = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "cpu_feature_guard",
    "This TensorFlow binary is optimized",
    "To enable the following instructions",
    "rebuild TensorFlow with the appropriate compiler flags",
)


def quiet_tensorflow() -> None:
    """TensorFlow's C++ start-up log off (warnings and errors stay), unless the user chose a level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _import_tensorflow_quietly() -> None:
    """`import tensorflow` with file descriptor 2 captured; every captured line but _STARTUP_NOISE is
    written back to stderr afterwards (an ImportError propagates after the same replay)."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            lines = text.splitlines(keepends=True)
            sys.stderr.write("".join(x for x in lines if not any(n in x for n in _STARTUP_NOISE)))
            sys.stderr.flush()


def require_tensorflow() -> None:
    """Exits with INSTALL_HINT when TensorFlow cannot be imported (the script would import it next)."""
    try:
        if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") not in ("", "0") and "tensorflow" not in sys.modules:
            _import_tensorflow_quietly()
        else:
            import tensorflow  # noqa: F401
    except ImportError:
        fail(INSTALL_HINT, code=2)


def expand_user_paths(argv: list[str]) -> list[str]:
    """`--flag=~/a` -> `--flag=/home/me/a`, also inside comma lists (`--input=~/a.jpg,~/b.jpg`)."""

    def expand(value: str) -> str:
        return ",".join(os.path.expanduser(v) if v.startswith("~") else v for v in value.split(","))

    out = []
    for arg in argv:
        if arg.startswith("-") and "=" in arg:
            name, value = arg.split("=", 1)
            arg = f"{name}={expand(value)}"
        out.append(arg)
    return out


def _config_error(argv: list[str]) -> str | None:
    """Why `--config=FILE[:ARG]` (or an override `--config.a.b=`) cannot load, in one line; or None."""
    value = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if value is None:
        return None
    path, _, arg = value.partition(":")
    if not os.path.isfile(path):
        return f"--config: no such config file {path!r} (a config is a file such as configs/toy.py[:tiny])"
    try:
        spec = importlib.util.spec_from_file_location("_colorize_config_check", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        config = module.get_config(arg) if arg else module.get_config()
    except Exception as e:  # the config file's own error, e.g. an unknown variant
        return f"--config={value}: {type(e).__name__}: {e}"
    for a in argv:
        if a.startswith("--config.") and "=" in a:
            key = a.split("=", 1)[0][len("--config.") :]
            node = config
            for part in key.split("."):
                if not hasattr(node, "keys") or part not in node.keys():
                    return f"--config.{key}: no such key in {value} (see the config file for its keys)"
                node = node[part]
    return None


def _adopt_help(module_name: str) -> None:
    """Makes `--help` list `module_name`'s flags: absl shows the key flags of sys.argv[0] only."""
    from absl import flags

    for flag in flags.FLAGS.flags_by_module_dict().get(module_name, []):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)


def run(main: Callable[[list[str]], int | None], module_name: str) -> None:
    """absl's app.run for `main` with the behaviour of this module's docstring."""
    from absl import app, flags

    quiet_tensorflow()
    _adopt_help(module_name)
    name = module_name if module_name != "__main__" else getattr(sys.modules["__main__"].__spec__, "name", "")
    _prog[:] = [next((s for s, m in SCRIPTS.items() if m == name), prog_name())]
    script = sys.modules["__main__"]
    if not getattr(script, "__doc__", None):  # console scripts: show the module's usage text in --help
        script.__doc__ = sys.modules[module_name].__doc__ if module_name in sys.modules else None

    def parse(argv: list[str]) -> list[str]:
        argv = expand_user_paths(argv)
        if any(a in ("--help", "-h", "--helpshort", "--helpfull", "-?") for a in argv[1:]):
            try:
                return flags.FLAGS(argv)
            except SystemExit as e:  # absl exits 1 after printing help; asking for help is not an error
                sys.exit(0 if e.code == 1 else e.code)
        reason = _config_error(argv)
        if reason:
            fail(reason)
        try:
            return flags.FLAGS(argv)
        except flags.Error as e:
            fail(f"{e} (try --help)")

    app.run(main, flags_parser=parse)


# Importing this module quiets TensorFlow's start-up log: script modules import it before TensorFlow, so
# `python -m common.train_main` is as quiet as the console script (TensorFlow is imported here, quietly,
# when this process runs a script module that needs it).
quiet_tensorflow()


def _main_module() -> str:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", "") or ""


if _main_module() in {m for s, m in SCRIPTS.items() if s not in WITHOUT_TENSORFLOW}:
    require_tensorflow()


def launcher(script: str) -> Callable[[], None]:
    """The console-script entry point of `script` (its module defines `main` and its flags)."""
    module_name = SCRIPTS[script]

    def entry() -> None:
        quiet_tensorflow()
        if script not in WITHOUT_TENSORFLOW:
            require_tensorflow()
        module = importlib.import_module(module_name)
        run(module.main, module_name)

    entry.script = script
    return entry


colorize = launcher("colorize")
train = launcher("colorize-train")
demo = launcher("colorize-demo")
import_coltran = launcher("colorize-import-coltran")
import_pic = launcher("colorize-import-pic")
export = launcher("colorize-export")
client = launcher("colorize-client")
tflite = launcher("colorize-tflite")
evaluate = launcher("colorize-evaluate")
