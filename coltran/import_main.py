"""`colorize-import-coltran`: the ColTran authors' released checkpoints -> work directories of ours.

    colorize-import-coltran --authors_dir=~/coltran --workdir=runs/coltran_authors

`--authors_dir` holds their colorizer/, color_upsampler/ and spatial_upsampler/ folders (or coltran/<those>,
as their coltran.zip unpacks); each one found becomes <workdir>/coltran_core, coltran_color_upsampler,
coltran_spatial_upsampler (config.json + checkpoints/), read by `common.train.load_for_inference`.
"""

from __future__ import annotations

from absl import flags

from common import cli

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "authors_dir", None, "Folder with the authors' colorizer/, color_upsampler/, spatial_upsampler/."
)
flags.DEFINE_string("workdir", None, "Where to write one work directory per component.")
flags.DEFINE_integer("low_resolution", 64, "The spatial upsampler's input resolution (their pipeline: 64).")
flags.mark_flags_as_required(["authors_dir", "workdir"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f"unexpected arguments {argv[1:]} (flags are --name=value)")
    from coltran.import_authors import AuthorsCheckpointError, import_all

    try:
        written = import_all(FLAGS.authors_dir, FLAGS.workdir, low_resolution=FLAGS.low_resolution)
    except AuthorsCheckpointError as e:
        cli.fail(str(e))
    for name, prefix in written.items():
        print(f"{name}: {prefix}")


def run() -> None:
    """`python -m coltran.import_main` (the console script goes through common.cli)."""
    cli.run(main, __name__)


if __name__ == "__main__":
    run()
