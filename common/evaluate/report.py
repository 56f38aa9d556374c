"""report.json (everything, machine-readable) and report.md (the table a person reads) of an evaluation.

report.md: one row per model, baseline and the ground truth, one column per metric, each cell
"value [low, high]" (95% bootstrap interval over photos); then which network gave the FID, the event
space of each bits/dim (figures over different spaces are not comparable), what was skipped and why,
and the photos that could not be read. Both files are written atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

COLUMNS = (  # (metric key, column title, which way is better)
    ("bits_per_dim", "bits/dim", "lower"),
    ("auc", "AuC", "higher"),
    ("auc_rebalanced", "AuC rebal.", "higher"),
    ("ab_hist_intersection", "ab hist. ∩", "higher"),
    ("colorfulness", "colourfulness", "closer to ground truth"),
    ("diversity", "MS-SSIM pairs", "lower = more diverse"),
    ("psnr_best", "PSNR best of S (dB)", "higher"),
    ("fid", "FID", "lower"),
)


def _atomic_write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if np.isfinite(x) else str(float(x))
    if isinstance(x, np.integer):
        return int(x)
    return x


def cell(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "—"
    if "skipped" in entry:
        return "n/a"
    value, low, high = entry["value"], entry["low"], entry["high"]
    digits = 3 if abs(value) < 10 else 2
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def markdown(report: dict[str, Any]) -> str:
    metrics = report["metrics"]
    labels = [r["label"] for r in report["rows"]] + ["ground truth"]
    s = report["settings"]
    lines = [
        "# Colourisation evaluation",
        "",
        f"{report['num_images']} photos from `{s['data']}`, {s['num_samples']} samples each, "
        f"{s['size']}x{s['size']} frames (central square, area resize), seed {s['seed']}, temperature "
        f"{s['temperature']}, top_k {s['top_k']}. Cells: value [95% bootstrap interval over photos, "
        f"{s['resamples']} resamples"
        + (f"; FID {report['fid']['resamples']}]." if report["fid"].get("network") else "]."),
        "",
        "| | " + " | ".join(title for _, title, _ in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
        "| better | " + " | ".join(way for _, _, way in COLUMNS) + " |",
    ]
    for label in labels:
        lines.append(f"| {label} | " + " | ".join(cell(metrics[k].get(label)) for k, _, _ in COLUMNS) + " |")
    lines += ["", "## Models", ""]
    for r in report["rows"]:
        lines.append(f"- **{r['label']}**: `{r['weights']}` (cache `{r['cache_key']}`)")
    lines += ["", "## Bits/dim event spaces (not comparable across spaces)", ""]
    for label, e in metrics["bits_per_dim"].items():
        lines.append(f"- {label}: {e.get('event_space') or 'skipped: ' + e.get('skipped', '')}")
    fid = report["fid"]
    lines += ["", "## FID", ""]
    if fid.get("network"):
        lines += [
            f"- network: {fid['network']} (`{fid['file']}`)",
            f"- {fid['protocol']}",
            "- one sample per photo (the first) against the reference photos",
        ]
        if fid.get("warning"):
            lines.append(f"- **warning**: {fid['warning']}")
    else:
        lines.append(f"- skipped: {fid.get('reason')}")
    lines += [
        "",
        "## Notes",
        "",
        f"- AuC rebalanced: {report['rebalancing']}",
        f"- global prior baseline: {report['prior']}",
    ]
    skipped = [
        f"{k} / {label}: {e['skipped']}"
        for k, rows in metrics.items()
        for label, e in rows.items()
        if "skipped" in e
    ]
    lines += ["", "## Skipped", ""] + [f"- {x}" for x in report["skipped"] + skipped]
    lines += [
        "- ground truth: bits/dim, AuC, histogram intersection, diversity and PSNR are trivial or "
        "undefined for it"
    ]
    if report["problems"]:
        lines += ["", "## Problems (photos or groups skipped)", ""] + [f"- {p}" for p in report["problems"]]
    if report.get("plots"):
        lines += ["", "## Plots", ""] + [
            f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in report["plots"]
        ]
    elif report.get("plots_skipped"):
        lines += ["", f"Plots skipped: {report['plots_skipped']}"]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], output: str) -> None:
    """OUTPUT/report.json and OUTPUT/report.md."""
    _atomic_write(os.path.join(output, "report.json"), json.dumps(_jsonable(report), indent=1) + "\n")
    _atomic_write(os.path.join(output, "report.md"), markdown(report))
