"""`colorize-import-pic`: the PIC authors' released TF1 checkpoints -> a work directory of ours.

    colorize-import-pic --authors_checkpoint=~/imagenet/model.ckpt --workdir=runs/pic_imagenet

`--authors_checkpoint` is their model.ckpt prefix (or its folder) from cifar_model.tar.gz or
imagenet_model.tar.gz; the variant (CIFAR-10 or ILSVRC) is read from its variables. The work directory
(config.json + checkpoints/) is read by `common.train.load_for_inference` (their Polyak averages).
"""

from __future__ import annotations

from absl import flags

from common import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("authors_checkpoint", None, "Their model.ckpt prefix (or the folder holding it).")
flags.DEFINE_string("workdir", None, "Where to write the work directory.")
flags.DEFINE_integer("resolution", None, "Luminance side; default: theirs (CIFAR 32, ILSVRC 128).")
flags.mark_flags_as_required(["authors_checkpoint", "workdir"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f"unexpected arguments {argv[1:]} (flags are --name=value)")
    from pic.import_authors import AuthorsCheckpointError, import_checkpoint

    try:
        print(import_checkpoint(FLAGS.authors_checkpoint, FLAGS.workdir, resolution=FLAGS.resolution))
    except AuthorsCheckpointError as e:
        cli.fail(str(e))


def run() -> None:
    """`python -m pic.import_main` (the console script goes through common.cli)."""
    cli.run(main, __name__)


if __name__ == "__main__":
    run()
