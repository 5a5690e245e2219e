#!/usr/bin/env python3
"""Draws the figures of `sparsecap gates` from the data file it writes (one or two runs) and an
index.md that shows them with one line of reading each.

usage: gates_report.py GATES_DATA_JSON OUT_DIR
Exit code 3: matplotlib is missing (the command then says what to install).
"""
import json
import os
import sys

from plotting import pyplot as plt


def short(name):
    """decoder.lstm.w_ih -> lstm.w_ih, encoder.stages.0.pointwise.weight -> stages.0.pointwise.weight:
    the legends stay readable and every layer keeps a distinct label."""
    parts = name.split(".")
    return ".".join(parts[1:]) if len(parts) > 2 else name


def run_label(run, runs):
    label = os.path.basename(os.path.normpath(run["run"]))
    return f"{label} ({run['method']})" if len(runs) > 1 else label


def save(figure, out_dir, name):
    figure.tight_layout()
    figure.savefig(os.path.join(out_dir, name), dpi=110)
    plt.close(figure)
    return name


def per_layer_curves(runs, key, ylabel, title, out_dir, name):
    """One line per layer (per run: solid first run, dashed second) of log[key][layer] vs step."""
    if not any(record.get(key) for run in runs for record in run["log"]):
        return None
    figure, axis = plt.subplots(figsize=(9, 5.5))
    for index, run in enumerate(runs):
        layers = sorted({layer for record in run["log"] for layer in record.get(key, {})})
        for layer_index, layer in enumerate(layers):
            steps = [r["step"] for r in run["log"] if layer in r.get(key, {})]
            values = [r[key][layer] for r in run["log"] if layer in r.get(key, {})]
            axis.plot(steps, values, linestyle="-" if index == 0 else "--", color=plt.cm.tab20(layer_index % 20),
                      label=short(layer) if index == 0 else None)
    axis.set_xlabel("step")
    axis.set_ylabel(ylabel)
    axis.set_title(title + ("" if len(runs) == 1 else "  (solid: " + run_label(runs[0], runs) + ", dashed: "
                            + run_label(runs[1], runs) + ")"))
    axis.legend(fontsize=6, ncol=2, loc="best")
    return save(figure, out_dir, name)


def overall_sparsity(runs, out_dir):
    figure, axis = plt.subplots(figsize=(7, 4))
    for run in runs:
        axis.plot([r["step"] for r in run["log"]], [r["sparsity"] for r in run["log"]], label=run_label(run, runs))
        if run["target_sparsity"]:
            axis.axhline(run["target_sparsity"], color="gray", linestyle=":", linewidth=1)
    axis.set_xlabel("step")
    axis.set_ylabel("sparsity of the prunable weights")
    axis.set_title("overall sparsity (dotted: target)")
    axis.legend()
    return save(figure, out_dir, "sparsity_overall.png")


def final_sparsity_bars(runs, out_dir):
    names = [layer["name"] for layer in runs[0]["layers"]]
    figure, axis = plt.subplots(figsize=(9, 0.28 * len(names) + 1.5))
    height = 0.8 / len(runs)
    for index, run in enumerate(runs):
        by_name = {layer["name"]: layer["sparsity"] for layer in run["layers"]}
        axis.barh([i + index * height for i in range(len(names))], [by_name.get(n, 0) for n in names],
                  height=height, label=run_label(run, runs))
    axis.set_yticks([i + 0.4 - height / 2 for i in range(len(names))])
    axis.set_yticklabels([short(n) for n in names], fontsize=6)
    axis.invert_yaxis()
    axis.set_xlabel("final sparsity")
    axis.set_xlim(0, 1)
    axis.set_title("final sparsity per layer")
    axis.legend(fontsize=7)
    return save(figure, out_dir, "sparsity_per_layer.png")


def magnitude_density(runs, out_dir):
    figure, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4), squeeze=False)
    for axis, run in zip(axes[0], runs):
        edges = run["magnitude"]["edges"]
        centres = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
        width = edges[1] - edges[0] if len(edges) > 1 else 1
        for key, colour in (("kept", "tab:blue"), ("pruned", "tab:red")):
            counts = run["magnitude"][key]
            total = sum(counts) or 1
            axis.bar(centres, [c / total / width for c in counts], width=width, alpha=0.55, color=colour,
                     label=f"{key} ({int(sum(counts))})")
        axis.set_xlabel("|w| before finalize")
        axis.set_ylabel("density")
        axis.set_title(run_label(run, runs))
        axis.legend()
    return save(figure, out_dir, "magnitude_kept_pruned.png")


def gate_block_bars(runs, out_dir):
    recurrent = [layer for layer in runs[0]["layers"] if "gate_blocks" in layer]
    if not recurrent:
        return None
    figure, axis = plt.subplots(figsize=(8, 4))
    bars, ticks = [], []
    position = 0
    for layer in recurrent:
        for index, run in enumerate(runs):
            match = next((l for l in run["layers"] if l["name"] == layer["name"] and "gate_blocks" in l), None)
            if match is None:
                continue
            for block, value in zip(match["gate_blocks"]["names"], match["gate_blocks"]["sparsity"]):
                bars.append((position, value, index))
                ticks.append((position, f"{short(layer['name'])}\n{block}" if len(runs) == 1
                              else f"{short(layer['name'])}\n{block} ({index + 1})"))
                position += 1
        position += 1
    axis.bar([b[0] for b in bars], [b[1] for b in bars], color=[plt.cm.tab10(b[2]) for b in bars])
    axis.set_xticks([t[0] for t in ticks])
    axis.set_xticklabels([t[1] for t in ticks], fontsize=6)
    axis.set_ylim(0, 1)
    axis.set_ylabel("sparsity")
    axis.set_title("sparsity per gate block of every LSTM/GRU weight")
    return save(figure, out_dir, "gate_blocks.png")


def heatmaps(runs, out_dir):
    names = []
    for index, run in enumerate(runs):
        for layer in run["layers"]:
            if "gate_blocks" not in layer:
                continue
            figure, axis = plt.subplots(figsize=(5, 5))
            image = axis.imshow(layer["heatmap"], aspect="auto", cmap="viridis", vmin=0, vmax=1)
            figure.colorbar(image, ax=axis, label="kept fraction")
            blocks = layer["gate_blocks"]["names"]
            rows = len(layer["heatmap"])
            for b in range(1, len(blocks)):
                axis.axhline(b * rows / len(blocks) - 0.5, color="white", linewidth=0.8)
            axis.set_title(f"{layer['name']} ({'/'.join(blocks)} blocks top to bottom)\n{run_label(run, runs)}",
                           fontsize=8)
            axis.set_xlabel("columns (inputs), averaged")
            axis.set_ylabel("rows (gate units), averaged")
            names.append(save(figure, out_dir, f"heatmap_{index + 1}_{layer['name'].replace('.', '_')}.png"))
    return names


def reading_lines(runs):
    lines = {}
    first = runs[0]
    sparsest = max(first["layers"], key=lambda l: l["sparsity"])
    densest = min(first["layers"], key=lambda l: l["sparsity"])
    lines["sparsity_per_layer.png"] = (
        f"Sparsest layer of {run_label(first, runs)}: {sparsest['name']} ({100 * sparsest['sparsity']:.1f}%); "
        f"densest: {densest['name']} ({100 * densest['sparsity']:.1f}%).")
    if first["log"]:
        last = first["log"][-1]
        lines["sparsity_overall.png"] = (
            f"Overall sparsity at the last logged step ({last['step']}): {100 * last['sparsity']:.2f}% "
            f"(target {100 * first['target_sparsity']:.1f}%).")
    kept, pruned = first["magnitude"]["kept"], first["magnitude"]["pruned"]
    edges = first["magnitude"]["edges"]
    centres = [(a + b) / 2 for a, b in zip(edges, edges[1:])]

    def mean(counts):
        return sum(c * x for c, x in zip(counts, centres)) / (sum(counts) or 1)

    lines["magnitude_kept_pruned.png"] = (
        f"Mean |w| of kept weights {mean(kept):.4f} against {mean(pruned):.4f} for pruned ones: "
        + ("the method kept the larger weights." if mean(kept) > mean(pruned) else
           "the kept weights are not the larger ones."))
    recurrent = [l for l in first["layers"] if "gate_blocks" in l]
    if recurrent:
        parts = []
        for layer in recurrent:
            pairs = zip(layer["gate_blocks"]["names"], layer["gate_blocks"]["sparsity"])
            parts.append(short(layer["name"]) + ": " + ", ".join(f"{n} {100 * s:.1f}%" for n, s in pairs))
        lines["gate_blocks.png"] = "Sparsity per gate block — " + "; ".join(parts) + "."
    return lines


def main():
    data_file, out_dir = sys.argv[1], sys.argv[2]
    with open(data_file) as handle:
        runs = json.load(handle)
    os.makedirs(out_dir, exist_ok=True)
    figures = [
        ("Gating average per layer", per_layer_curves(runs, "per_mask_gating_average", "mean gate logit",
                                                      "gating average per layer", out_dir, "gating_average.png")),
        ("Sparsity per layer over training", per_layer_curves(runs, "per_mask_sparsity", "sparsity",
                                                              "sparsity per layer", out_dir, "sparsity_per_step.png")),
        ("Overall sparsity", overall_sparsity(runs, out_dir)),
        ("Final sparsity per layer", final_sparsity_bars(runs, out_dir)),
        ("Kept and pruned weights", magnitude_density(runs, out_dir)),
        ("Gate blocks of the recurrent weights", gate_block_bars(runs, out_dir)),
    ]
    readings = reading_lines(runs)
    lines = ["# Gates report", "", "Runs: " + ", ".join(f"`{r['run']}` ({r['method']})" for r in runs), ""]
    for title, name in figures:
        if name is None:
            lines += [f"## {title}", "", "Not drawn: the log has no per-layer records of it (a method without gates, or a run logged before sparsecap recorded them).", ""]
            continue
        lines += [f"## {title}", "", f"![{title}]({name})", ""]
        if name in readings:
            lines += [readings[name], ""]
    heatmap_files = heatmaps(runs, out_dir)
    if heatmap_files:
        lines += ["## Heat maps of the recurrent weights", "",
                  "Kept fraction per cell of rows (gate units, blocks top to bottom) x columns (inputs).", ""]
        lines += [f"![{name}]({name})" for name in heatmap_files] + [""]
    with open(os.path.join(out_dir, "index.md"), "w") as handle:
        handle.write("\n".join(lines))


if __name__ == "__main__":
    main()
