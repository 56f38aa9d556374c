"""colorize-train: train or evaluate any registered model from a config, on any tf.distribute strategy.

  colorize-train --config=configs/toy.py:tiny --workdir=/tmp/toy              # train (resumes if run before)
  colorize-train --config=configs/toy.py:tiny --workdir=/tmp/toy --mode=eval  # bits/dim with EMA weights
  colorize-train --config=configs/coltran_core.py --workdir=gs://b/run --strategy=tpu --tpu=my-tpu
  colorize-train ... --config.train.num_steps=100 --config.data.source=folder --config.data.folder=DIR

Also `python -m common.train_main`. Errors a person must fix (missing checkpoint, config clash, NaN loss)
print one line and exit with status 1.
"""

from __future__ import annotations

from absl import flags, logging
from ml_collections import config_flags

from common import cli
from common import train as trainer
from common.train import inputs

_CONFIG = config_flags.DEFINE_config_file("config", None, "configs/<model>.py[:variant]", lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Run folder: config.json, checkpoints/, metrics.jsonl, TensorBoard."
)
_MODE = flags.DEFINE_enum("mode", "train", ["train", "eval"], "Train (resuming) or evaluate a checkpoint.")
_STRATEGY = flags.DEFINE_enum(
    "strategy",
    "default",
    list(trainer.STRATEGIES),
    "default: one device; mirrored: all local GPUs (or --num_cpu_devices); "
    "multi_worker: machines in TF_CONFIG; tpu: Cloud TPU (--tpu).",
)
_TPU = flags.DEFINE_string("tpu", "local", "--strategy=tpu: local (this TPU VM), a TPU name or grpc:// URL.")
_NUM_CPU_DEVICES = flags.DEFINE_integer("num_cpu_devices", 0, "Split the CPU into this many logical devices.")
_INIT_CHECKPOINT = flags.DEFINE_string(
    "init_checkpoint",
    "",
    "Fine-tune: start from these model weights (a run's workdir, its "
    "checkpoints/ folder or a ckpt-N prefix); optimiser and step reset.",
)
_CHECKPOINT = flags.DEFINE_string("checkpoint", "", "Eval: this checkpoint instead of the workdir's latest.")
_SPLIT = flags.DEFINE_string("split", "", "Eval: the split (default: config.data.eval_split).")
_EMA = flags.DEFINE_bool("ema", True, "Eval: the EMA weights (if the config has an EMA); --noema: raw ones.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])} (flags are --name=value; try --help)")
    config, workdir = _CONFIG.value, _WORKDIR.value
    try:
        strategy = trainer.make_strategy(
            _STRATEGY.value, tpu=_TPU.value, num_cpu_devices=_NUM_CPU_DEVICES.value
        )
    except ValueError as e:
        cli.fail(str(e))
    logging.info("Strategy %s with %d replicas.", type(strategy).__name__, strategy.num_replicas_in_sync)
    try:
        if _MODE.value == "train":
            dataset_fn = inputs.make_dataset_fn(
                config, split=config.data.train_split, training=True, batch_size=config.train.batch_size
            )
            preview = inputs.preview_batch(config) if config.train.image_summary_every else None
            result = trainer.train(
                config,
                workdir,
                dataset_fn=dataset_fn,
                strategy=strategy,
                init_checkpoint=_INIT_CHECKPOINT.value,
                preview_batch=preview,
            )
            logging.info("Training stopped at step %d; checkpoint %s.", result.step, result.checkpoint)
        else:
            split = _SPLIT.value or config.data.eval_split
            dataset_fn = inputs.make_dataset_fn(
                config, split=split, training=False, batch_size=config.eval.batch_size
            )
            result = trainer.evaluate(
                config,
                workdir,
                dataset_fn=dataset_fn,
                strategy=strategy,
                checkpoint=_CHECKPOINT.value,
                split_name=split,
                use_ema=_EMA.value,
            )
            print(" ".join(f"{k}={v}" for k, v in result.items()))
    except (trainer.TrainError, FileNotFoundError) as e:  # missing checkpoint, data, config clash, NaN
        cli.fail(str(e))


def run() -> None:
    """`python -m common.train_main` (the console script colorize-train goes through common.cli)."""
    cli.run(main, __name__)


if __name__ == "__main__":
    run()
