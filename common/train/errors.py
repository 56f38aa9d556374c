"""Errors the trainer raises for problems a person must fix; the command line prints them in one line."""

from __future__ import annotations


class TrainError(Exception):
    """Base class: a problem with the run's set-up or state, reported without a traceback by the CLI."""


class CheckpointError(TrainError):
    """A checkpoint that is missing, unreadable or does not match the model being trained or evaluated."""


class ConfigError(TrainError):
    """A config that cannot be loaded or that conflicts with what a work directory already holds."""


class DivergedError(TrainError):
    """The loss became NaN or Inf; training stopped without saving, the last good checkpoint is kept."""
