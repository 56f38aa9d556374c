"""The generic trainer: any model of `common.registry` on any `tf.distribute` strategy.

    from common.train import make_strategy, train, evaluate
    strategy = make_strategy("mirrored")
    train(config, workdir, dataset_fn=fn, strategy=strategy)   # fn(input_context) -> tf.data.Dataset
    evaluate(config, workdir, dataset_fn=eval_fn, strategy=strategy)

Modules: strategy (choosing it), loop (training), evaluate, optim (optimisers, schedules), ema,
checkpoint (keyed by variable path; finding, writing, restoring loudly), preemption (all workers
save and stop on SIGTERM), summaries (metrics log, progress, TensorBoard), config_io,
inputs (dataset functions from a config), state (model + optimiser + EMA under a strategy).
"""

from common.train.checkpoint import (
    latest_checkpoint,
    load_model_weights,
    named_variables,
    resolve_checkpoint,
    save_model_checkpoint,
)
from common.train.config_io import load_config, write_config
from common.train.ema import ExponentialMovingAverage
from common.train.errors import CheckpointError, ConfigError, DivergedError, TrainError
from common.train.evaluate import evaluate
from common.train.loop import TrainResult, train
from common.train.optim import learning_rate_schedule, make_optimizer
from common.train.state import TrainState, build_state, load_for_inference
from common.train.strategy import STRATEGIES, is_chief, make_strategy, split_cpu

__all__ = [
    "STRATEGIES",
    "CheckpointError",
    "ConfigError",
    "DivergedError",
    "ExponentialMovingAverage",
    "TrainError",
    "TrainResult",
    "TrainState",
    "build_state",
    "evaluate",
    "is_chief",
    "latest_checkpoint",
    "learning_rate_schedule",
    "load_config",
    "load_for_inference",
    "load_model_weights",
    "make_optimizer",
    "make_strategy",
    "named_variables",
    "resolve_checkpoint",
    "save_model_checkpoint",
    "split_cpu",
    "train",
    "write_config",
]
