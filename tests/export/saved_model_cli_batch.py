"""Several `saved_model_cli run` command lines in one process (TensorFlow imported once, not per call).

    python tests/export/saved_model_cli_batch.py COMMANDS.json RESULTS.json

COMMANDS.json: {name: argv after `saved_model_cli`, e.g. ["run", "--dir", ..., "--outdir", ...]}.
Each command goes through saved_model_cli's own entry point (`saved_model_cli.main`, what the console
script calls): its flags, its input parsing, a fresh Session with the C++-backed SavedModel loader, and
its .npy outputs. RESULTS.json: {name: null (exit 0) or the error the command ended with}.
"""

from __future__ import annotations

import json
import sys


def run_commands(commands: dict[str, list[str]]) -> dict[str, str | None]:
    """name -> None when the command exited 0, else its exit code or exception as text."""
    from tensorflow.python.tools import saved_model_cli

    results: dict[str, str | None] = {}
    for name, argv in commands.items():
        sys.argv = ["saved_model_cli", *argv]
        try:
            saved_model_cli.main()
            results[name] = None
        except SystemExit as e:  # absl's app.run ends with sys.exit(0) on success
            results[name] = None if e.code in (0, None) else f"exit code {e.code}"
        except Exception as e:  # noqa: BLE001 (the CLI would print it and exit 1)
            results[name] = f"{type(e).__name__}: {e}"
        print(f"saved_model_cli {name}: {'ok' if results[name] is None else 'failed'}", flush=True)
    return results


if __name__ == "__main__":
    commands_path, results_path = sys.argv[1:3]  # before run_commands replaces sys.argv
    with open(commands_path) as f:
        todo = json.load(f)
    done = run_commands(todo)
    with open(results_path, "w") as f:
        json.dump(done, f)
