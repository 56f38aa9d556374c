"""--weights: (a) work directories, (b) an exported SavedModel, (c) the authors' checkpoints imported on
the fly (cached), and the missing default models; (a) and (b) give the same colourings."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from coltran import colorizer
from common.colorize import runner
from common.colorize.inputs import collect

AUTHORS = Path(__file__).resolve().parents[1] / "data" / "coltran_authors"


def _colour(model, files, out, **kw) -> runner.Summary:
    found, problems = collect([str(f) for f in files])
    opts = runner.Options(output=str(out), **{"num_samples": 2, "batch_size": 2, **kw})
    return runner.run(model, found, problems, opts, stream=io.StringIO())


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_exported_saved_model_gives_the_work_directories_colourings(model, workdirs, inputs_dir, tmp_path):
    import dataclasses

    from export.export import load_run, spec_for_models
    from export.saved_model import save
    from export.spec import ExportOptions

    _, paths = inputs_dir
    models = {s: load_run(os.path.join(workdirs, s))[1] for s in colorizer.STAGES}
    spec = spec_for_models(models, version=1, options=ExportOptions())
    used = ("serving_default", "core", "color_upsampler", "spatial_upsampler")  # a cheaper export
    spec = dataclasses.replace(spec, signatures=[s for s in spec.signatures if s.name in used])
    saved = save(spec, str(tmp_path / "exports"), warmup_signatures=())  # exports/coltran/1
    assert colorizer._find_saved_model(str(tmp_path / "exports")) == saved  # TF Serving's base -> version
    exported = colorizer.load(str(tmp_path / "exports"))
    assert isinstance(exported.stages, colorizer.SavedModelStages) and exported.weights == saved
    files = [paths["rgb_jpeg"], paths["exif_rotated"]]
    assert _colour(model, files, tmp_path / "a").exit_code == 0
    assert _colour(exported, files, tmp_path / "b").exit_code == 0
    for f in files:
        for n in range(2):
            a, b = (_pixels(tmp_path / d / f"{f.stem}_sample{n}.png") for d in "ab")
            assert np.mean(a == b) > 0.99, (f, n)  # the same draws; float rounding may move a few pixels


def test_authors_checkpoints_are_imported_once_into_the_cache(inputs_dir, tmp_path, monkeypatch):
    from coltran import import_authors

    _, paths = inputs_dir
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = colorizer.load(str(AUTHORS))
    assert model.weights == f"authors: {AUTHORS}"
    assert model.input_sizes == (8, 16)  # their fixture: 8x8 core, 16x16 spatial upsampler
    assert model.stages.core.row_context_sampling  # the authors' sampling context
    model.stages.core.jit_compile_sampler = False  # imported at the paper config's XLA: no compile in tests
    cached = list((tmp_path / "cache" / "colorize" / "coltran-authors").iterdir())
    assert len(cached) == 1 and sorted(os.listdir(cached[0])) == sorted(colorizer.STAGES)
    assert _colour(model, [paths["gray_png"]], tmp_path / "out", num_samples=2, batch_size=2).exit_code == 0
    assert _pixels(tmp_path / "out" / "gray_sample1.png").shape == (40, 60, 3)

    def no_import(*args, **kwargs):
        raise AssertionError("imported again")

    monkeypatch.setattr(import_authors, "import_component", no_import)
    colorizer.load(str(AUTHORS))  # from the cache


def test_missing_default_models_say_so_and_suggest_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(colorizer, "DEFAULT_WEIGHTS", str(tmp_path / "default"))
    with pytest.raises(colorizer.WeightsError) as e:
        colorizer.load(None)
    assert "no default ColTran models" in str(e.value) and "--weights=" in str(e.value)


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_unusable_weights_are_one_line(tmp_path, make):
    path = tmp_path / "w"
    if make == "empty":
        path.mkdir()
    with pytest.raises(colorizer.WeightsError) as e:
        colorizer.load(str(path))
    assert str(e.value).startswith(f"--weights={path}:") and "\n" not in str(e.value)
