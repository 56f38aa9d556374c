"""Probabilistic image colorization: ColTran, PixColor and PIC on TensorFlow 2 / Keras 3."""

from setuptools import find_packages, setup

# TensorFlow is chosen by extra so that a CPU machine, a GPU machine and a TPU VM each get exactly one
# TensorFlow: `.[cpu]` (tensorflow-cpu), `.[gpu]` (tensorflow[and-cuda]) or `.[tpu]` (tensorflow-tpu).
# `.[test]` implies the CPU build, since tests run on CPU machines.
TF_VERSION = "2.21.0"
CPU = [f"tensorflow-cpu=={TF_VERSION}"]
TEST = CPU + [
    "pytest>=8",
    "pytest-xdist>=3.5",  # the suite runs in 2 processes (pytest.ini): tracing is single-threaded Python
    "scipy>=1.10",  # independent references in tests (chi-square, sqrtm, quad)
    "scikit-image>=0.24",  # independent colour-conversion reference and bundled photos
    "ruff>=0.6",
    "ai-edge-litert>=1.0",  # runs exported TFLite models
]
# export/client.py and the warm-up requests also need tensorflow-serving-api==2.21.0, installed with
# --no-deps (README): it requires plain `tensorflow`, which would put a second TensorFlow next to
# tensorflow-cpu (a 570 MB download), so no extra can name it.
SERVING_API = "tensorflow-serving-api==2.21.0"
SERVING = ["grpcio>=1.60"]
TEST += SERVING
EVAL = ["matplotlib>=3.8"]  # colorize-evaluate's plots (without it: report.md/json only)
TEST += EVAL

setup(
    # "colorize" on the package index is an unrelated tool (a terminal-output colouriser); this name was
    # free there on 2026-12-02. The import packages and the console scripts keep their names.
    name="probabilistic-colorization",
    version="0.1.0",
    description="Probabilistic image colorization (ColTran, PixColor, PIC) in TensorFlow 2 / Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(
        include=["common*", "coltran*", "pixcolor*", "pic*", "cic*", "configs*", "export*"]
    ),
    package_data={
        "common": [
            "assets/*.txt",
            "assets/*.npy",
            "assets/*.md",
            "assets/photos/*.jpg",
            "assets/photos/*.md",
        ],
        # the embedded default models (README "Default models"): three slim work directories
        "coltran": ["assets/default/*.md", "assets/default/*/config.json", "assets/default/*/checkpoints/*"],
        # the embedded default CIC model: one slim work directory (cic/colorizer.py DEFAULT_WEIGHTS)
        "cic": ["assets/default/*.md", "assets/default/config.json", "assets/default/checkpoints/*"],
        # PixColor's two default models, pixcolor/ + pixcolor_refinement/ (pixcolor/colorizer.py)
        "pixcolor": ["assets/default/*/config.json", "assets/default/*/checkpoints/*"],
        # the default PIC model: one slim work directory (pic/colorizer.py DEFAULT_WEIGHTS)
        "pic": ["assets/default/config.json", "assets/default/checkpoints/*"],
    },
    install_requires=[
        "keras>=3.5",
        "numpy>=1.26",
        "ml_collections>=0.1.1",
        "absl-py>=2.0",
        "pillow>=10",
        "tensorflow-datasets>=4.9",
    ],
    extras_require={
        "cpu": CPU,
        "gpu": [f"tensorflow[and-cuda]=={TF_VERSION}"],
        "tpu": [f"tensorflow-tpu=={TF_VERSION}"],
        "test": TEST,
        "serving": SERVING,
        "eval": EVAL,
    },
    entry_points={
        "console_scripts": [
            "colorize=common.cli:colorize",
            "colorize-train=common.cli:train",
            "colorize-demo=common.cli:demo",
            "colorize-import-coltran=common.cli:import_coltran",
            "colorize-import-pic=common.cli:import_pic",
            "colorize-export=common.cli:export",
            "colorize-client=common.cli:client",
            "colorize-tflite=common.cli:tflite",
            "colorize-evaluate=common.cli:evaluate",
        ]
    },
)
