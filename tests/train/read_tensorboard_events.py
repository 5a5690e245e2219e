#!/usr/bin/env python3
"""Reads a run directory's TensorBoard event files with TensorBoard's own reader and prints every
scalar as JSON: {"scalars": {tag: [[step, value], ...]}, "histograms": {tag: [step, ...]}}.

The `tensorboard` package is imported from the environment, else installed from PyPI into
PACKAGES_DIR first. Exit code 77: it could not be had (the calling test then skips).
usage: read_tensorboard_events.py RUN_DIR PACKAGES_DIR
"""
import importlib
import json
import subprocess
import sys


def import_event_accumulator(packages_dir):
    try:
        from tensorboard.backend.event_processing import event_accumulator
        return event_accumulator
    except ImportError:
        pass
    sys.path.insert(0, packages_dir)
    try:
        from tensorboard.backend.event_processing import event_accumulator
        return event_accumulator
    except ImportError:
        pass
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--target", packages_dir, "tensorboard"]
    try:
        subprocess.run(install, check=True, timeout=300, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # The folder did not exist when first searched: forget that before importing again.
        sys.path_importer_cache.pop(packages_dir, None)
        importlib.invalidate_caches()
        from tensorboard.backend.event_processing import event_accumulator
        return event_accumulator
    except Exception as error:  # no pip, no network, a failed build: the test skips
        print(f"tensorboard is not available and could not be installed: {error}", file=sys.stderr)
        sys.exit(77)


def main():
    run_dir, packages_dir = sys.argv[1], sys.argv[2]
    event_accumulator = import_event_accumulator(packages_dir)
    accumulator = event_accumulator.EventAccumulator(
        run_dir, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    out = {"scalars": {}, "histograms": {}}
    for tag in tags["scalars"]:
        out["scalars"][tag] = [[event.step, event.value] for event in accumulator.Scalars(tag)]
    for tag in tags["histograms"]:
        out["histograms"][tag] = [event.step for event in accumulator.Histograms(tag)]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
