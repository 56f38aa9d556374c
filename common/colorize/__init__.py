"""The model-agnostic side of the `colorize` command (common/colorize_main.py).

inputs.py    INPUT... (files, folders, globs) -> images with output names that never collide
imageio.py   safe decoding (header checks first), luminance, chroma un-squashing in row strips, atomic
             writes with provenance
protocol.py  what a model package implements to plug in (coltran/colorizer.py)
runner.py    batching, resume, progress bar, summary, exit code
"""
