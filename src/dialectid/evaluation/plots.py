"""PNG plots for the evaluation report (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import norm  # noqa: E402

from dialectid.evaluation.metrics import det_curve, detection_llrs  # noqa: E402


def confusion_plot(matrix: np.ndarray, labels: list[str], path: Path) -> None:
    size = max(4.0, 0.5 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    rows = matrix.sum(axis=1, keepdims=True)
    image = ax.imshow(
        np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0), cmap="Blues", vmin=0, vmax=1
    )
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true label's clips")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion on {int(matrix.sum())} answered clips (counts in cells)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reliability_plot(table: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    if table:
        ax.bar([(b["low"] + b["high"]) / 2 for b in table], [b["accuracy"] for b in table],
               width=[b["high"] - b["low"] for b in table], alpha=0.6, edgecolor="black")  # fmt: skip
        ax.plot([b["confidence"] for b in table], [b["accuracy"] for b in table], "o", color="C1")
        for b in table:  # how many clips each bar stands on: a bar of 2 clips says little
            ax.text((b["low"] + b["high"]) / 2, min(b["accuracy"] + 0.02, 0.95), str(b["n"]), ha="center",
                    va="bottom", fontsize=7)  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence of the top label")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability of the top label ({sum(b['n'] for b in table)} clips; numbers: clips per bar)",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def det_plot(logp: np.ndarray, targets: np.ndarray, labels: list[str], path: Path) -> None:
    llr = detection_llrs(logp)
    fig, ax = plt.subplots(figsize=(5, 5))
    ticks = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.4])
    styles = det_styles(len(labels))
    for c, label in enumerate(labels):
        target, other = llr[targets == c, c], llr[targets != c, c]
        if len(target) and len(other):
            miss, fa, _ = det_curve(target, other)
            clip = lambda p: norm.ppf(np.clip(p, 1e-3, 1 - 1e-3))  # noqa: E731
            colour, dashes = styles[c]
            ax.plot(clip(fa), clip(miss), label=label, linewidth=1.2, color=colour, linestyle=dashes)
    ax.set_xticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_xlim(norm.ppf(0.001), norm.ppf(0.6))
    ax.set_ylim(norm.ppf(0.001), norm.ppf(0.6))
    ax.set_xlabel("false alarm (%)")
    ax.set_ylabel("miss (%)")
    ax.set_title("Detection error trade-off per label (one label against the rest)", fontsize=9)
    ax.legend(fontsize=7, ncol=2 if len(labels) > 10 else 1)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def det_styles(n: int) -> list[tuple[tuple[float, ...], str]]:
    """A (colour, line style) per label, no two alike: the 20 colours of tab20 first, then the same
    colours dashed, dotted and dash-dotted (the default cycle repeats after 10 colours)."""
    colours = [tuple(float(v) for v in plt.get_cmap("tab20")(i)) for i in range(20)]
    dashes = ["-", "--", ":", "-."]
    return [(colours[i % 20], dashes[(i // 20) % len(dashes)]) for i in range(n)]
