"""`--weights` for a model that is one work directory (CIC, PIC): the checks and one-line errors once."""

from __future__ import annotations

import os
from typing import Any


class WeightsError(ValueError):
    """--weights names nothing loadable; the message is one line saying what was expected."""


def load_single_run(
    weights: str | None, name: str, default_dir: str, missing_default: str
) -> tuple[Any, str]:
    """--weights (a work directory, or None for `default_dir`) -> (the model registered as `name`, a label
    for provenance). `missing_default`: the one-line message when None is given and no default ships.
    Raises WeightsError (one line)."""
    from common.train.errors import TrainError
    from export.export import load_run

    if weights is None:
        if not os.path.isfile(os.path.join(default_dir, "config.json")):
            raise WeightsError(missing_default)
        path, label = default_dir, f"default: {default_dir}"
    else:
        path = label = os.path.abspath(os.path.expanduser(weights))
        if not os.path.isdir(path):
            raise WeightsError(f"--weights={weights}: no such folder")
    try:
        found, model, _ = load_run(path)
    except (FileNotFoundError, ValueError, TrainError) as e:
        raise WeightsError(f"--weights={weights}: {e}") from None
    if found != name:
        raise WeightsError(f"--weights={weights}: holds a {found!r} model, not {name!r}")
    return model, label
