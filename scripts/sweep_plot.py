#!/usr/bin/env python3
"""Draws CIDEr-D against sparsity, one line per pruning method, from the table.csv that
`sparsecap sweep` writes; the dense baseline is a horizontal dashed line. The sparsity axis is a logit scale.
When the table has the synthetic set's grounded columns, a second panel draws colour + shape
recall the same way: the share of the pictures' objects named with their colour and shape (CIDEr-D
alone can hide a model that no longer looks at the image; precision alone rewards a model that
names almost nothing).

usage: sweep_plot.py TABLE_CSV OUT_PNG
Exit code 3: matplotlib is missing (the command then says what to install).
"""
import csv
import sys

from plotting import pyplot as plt


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


GROUNDED_COLUMN = "colour+shape R %"


def lines_by_method(rows, column):
    """method -> [(measured sparsity, value of column)] in increasing sparsity, dense left out."""
    lines = {}
    for row in rows:
        if row["method"] == "dense":
            continue
        lines.setdefault(row["method"], []).append((float(row["sparsity %"]) / 100, float(row[column])))
    return {method: sorted(points) for method, points in lines.items()}


def has_grounded_scores(rows):
    return all(row.get(GROUNDED_COLUMN, "-") not in ("-", "") for row in rows)


def draw(axes, rows, column, title):
    lines = lines_by_method(rows, column)
    for method, points in lines.items():
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=method)
    for row in rows:
        if row["method"] == "dense":
            axes.axhline(float(row[column]), color="black", linestyle="--", linewidth=1, label="dense")
    # A logit axis spreads 80, 90, 95, 97.5 and 99% out: each halving of the kept weights is a
    # similar step to the right.
    targets = sorted({float(row["target"]) for row in rows if row["method"] != "dense"})
    sparsities = [p[0] for points in lines.values() for p in points]
    if targets and 0 < min(sparsities) and max(sparsities) < 1:
        axes.set_xscale("logit")
        axes.set_xticks(targets)
        axes.set_xticklabels([f"{100 * t:g}%" for t in targets])
        axes.minorticks_off()
    axes.set_xlabel("sparsity of the prunable weights (measured)")
    axes.set_ylabel(title + " (test split)")
    axes.set_title(title + " against sparsity")
    axes.grid(True, alpha=0.3)
    axes.legend()


def main(csv_path, png_path):
    rows = read_rows(csv_path)
    panels = [("CIDEr-D", "CIDEr-D")]
    if has_grounded_scores(rows):
        panels.append((GROUNDED_COLUMN, "colour + shape recall %"))
    figure, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.5), squeeze=False)
    for panel, (column, title) in zip(axes[0], panels):
        draw(panel, rows, column, title)
    figure.tight_layout()
    figure.savefig(png_path, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
