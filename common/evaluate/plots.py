"""The PNG plots of `colorize-evaluate` (matplotlib: the `eval` extra; without it none are drawn).

marginals.png   the a and b marginal histograms of each row against the ground truth (PixColor fig. 7)
ms_ssim.png     histogram of the per-photo mean MS-SSIM of sample pairs, per row (PixColor fig. 8)
grid.png        gray | samples of each row | ground truth, for the first photos
bars.png        one panel per metric: a bar per row with its 95% interval
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from common.evaluate.report import COLUMNS
from common.evaluate.scores import HIST_BINS


def available() -> str | None:
    """None when matplotlib can be imported, else why the plots are skipped (one line)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return 'matplotlib is not installed (pip install -e ".[eval]")'
    return None


def draw(
    report: dict[str, Any],
    output: str,
    samples: Callable[[str, int], np.ndarray | None],
    ground_truth: list[np.ndarray],
    grid_images: int = 3,
    grid_samples: int = 2,
) -> list[str]:
    """Writes the plots; returns their paths. samples(label, image index) -> uint8 [S, E, E, 3] or None."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []

    def save(fig: Any, name: str) -> None:
        path = os.path.join(output, name)
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)

    per_image = report["per_image"]
    centres = -128 + (np.arange(HIST_BINS) + 0.5) * 256 / HIST_BINS
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, channel in zip(axes, ("a", "b"), strict=True):
        ax.plot(centres, report["gt_hist"][channel], "k-", lw=2.5, label="ground truth")
        for label, hist in report["hists"].items():
            ax.plot(centres, hist[channel], label=label)
        ax.set_yscale("log")
        ax.set_xlabel(f"Lab {channel}")
        ax.set_ylabel("fraction of pixels")
    axes[0].legend(fontsize=8)
    save(fig, "marginals.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, entry in per_image.items():
        if entry.get("diversity"):
            ax.hist(entry["diversity"], bins=np.linspace(0, 1, 21), alpha=0.5, label=label)
    ax.set_xlabel("mean MS-SSIM of sample pairs per photo (lower = more diverse)")
    ax.set_ylabel("photos")
    ax.legend(fontsize=8)
    save(fig, "ms_ssim.png")

    n_img = min(grid_images, len(ground_truth))
    columns = [("gray", None)]
    for r in report["rows"]:
        if r["label"] != "gray":  # the gray baseline is the first column already
            columns += [(r["label"], k) for k in range(1 if r.get("deterministic") else grid_samples)]
    columns.append(("truth", None))
    fig, axes = plt.subplots(n_img, len(columns), figsize=(1.6 * len(columns), 1.7 * n_img), squeeze=False)
    for i in range(n_img):
        gt = ground_truth[i]
        for j, (label, k) in enumerate(columns):
            ax = axes[i][j]
            ax.axis("off")
            if label == "gray":
                y = np.round(gt.astype(np.float64) @ [0.299, 0.587, 0.114]).astype(np.uint8)
                ax.imshow(y, cmap="gray", vmin=0, vmax=255)
            elif label == "truth":
                ax.imshow(gt)
            else:
                smp = samples(label, i)
                if smp is not None and k < len(smp):
                    ax.imshow(smp[k])
            if i == 0:
                ax.set_title(label if k in (None, 0) else "", fontsize=7)
    save(fig, "grid.png")

    metrics = report["metrics"]
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    for ax, (key, title, way) in zip(axes.ravel(), COLUMNS, strict=True):
        rows = [(lb, e) for lb, e in metrics[key].items() if "value" in e]
        ax.set_title(f"{title} ({way})", fontsize=9)
        if not rows:
            ax.text(0.5, 0.5, "skipped", ha="center", va="center")
            ax.axis("off")
            continue
        values = np.array([e["value"] for _, e in rows])
        err = np.array([[e["value"] - e["low"] for _, e in rows], [e["high"] - e["value"] for _, e in rows]])
        ax.bar(range(len(rows)), values, yerr=np.clip(err, 0, None), capsize=3)
        ax.set_xticks(range(len(rows)), [lb for lb, _ in rows], rotation=30, ha="right", fontsize=7)
    fig.tight_layout()
    save(fig, "bars.png")
    return paths
