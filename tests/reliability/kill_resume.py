#!/usr/bin/env python3
"""Kill and resume: a real `sparsecap train` process is killed with SIGKILL at chosen points
(SPARSECAP_CRASH_AT, engine/crash_point.h), resumed with --resume until it finishes, and its final
weights, gates and optimizer state (final.safetensors, byte for byte), best checkpoint and
log.jsonl (every record, timing fields aside) must equal those of an uninterrupted run. Then a
checkpoint write that fails part-way (RLIMIT_FSIZE in the child) must stop the run with one line
saying the previous checkpoint is unchanged, and that checkpoint must still resume to the same end.

    kill_resume.py SPARSECAP_BINARY WORK_DIR
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

STEPS = 24
# Timing fields differ between any two runs; everything else in a record must match.
TIMING_KEYS = {"elapsed_seconds", "images_per_second"}


def config(data_dir, pruning):
    return {
        "model": {"type": "soft_attention",
                  "encoder": {"width_multiplier": 0.25, "blocks": [[32, 2], [64, 2]]},
                  "decoder": {"hidden_size": 32, "embedding_size": 16, "attention_size": 16},
                  "decoding": {"max_words": 12}},
        "data": {"dir": data_dir, "synthetic_images": 60, "image_size": 32, "images_per_batch": 8,
                 "seq_per_img": 2, "min_word_count": 1},
        "optim": {"max_steps": STEPS, "learning_rate": 5e-3},
        "pruning": pruning,
        "schedule": {"log_every": 1, "validate_every": 6, "validation_images": 8, "checkpoint_every": 5,
                     "histogram_every": 0},
    }


def run(binary, args, env_extra=None, preexec=None):
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    env.pop("SPARSECAP_CRASH_AT", None)
    env.update(env_extra or {})
    return subprocess.run([binary] + args, env=env, capture_output=True, text=True, timeout=600,
                          preexec_fn=preexec)


def log_records(run_dir):
    records = []
    with open(os.path.join(run_dir, "log.jsonl")) as log:
        for line in log:
            record = json.loads(line)
            for key in TIMING_KEYS:
                record.pop(key, None)
            records.append(record)
    return records


def read(path):
    with open(path, "rb") as f:
        return f.read()


failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message)


def compare_runs(reference, other, label):
    for name in ("final.safetensors", "best.safetensors", "last.safetensors"):
        a, b = os.path.join(reference, "checkpoints", name), os.path.join(other, "checkpoints", name)
        check(os.path.exists(a) == os.path.exists(b), f"{label}: {name} exists in only one of the runs")
        if os.path.exists(b):
            check(os.path.exists(a) and read(a) == read(b), f"{label}: {name} differs from the uninterrupted run's")
    ref_log, log = log_records(reference), log_records(other)
    steps = [r["step"] for r in log]
    check(len(steps) == len(set((r["step"], "validation_cider" in r) for r in log)),
          f"{label}: log.jsonl repeats a step: {steps}")
    check(ref_log == log, f"{label}: log.jsonl differs from the uninterrupted run's "
                          f"({len(ref_log)} vs {len(log)} records)")
    leftovers = [f for d in (other, os.path.join(other, "checkpoints")) for f in os.listdir(d) if ".tmp." in f]
    check(not leftovers, f"{label}: temp files left after resuming: {leftovers}")


def resume_to_end(binary, run_dir, label):
    result = run(binary, ["train", "--out", run_dir, "--resume"])
    check(result.returncode == 0, f"{label}: resume exited {result.returncode}: {result.stderr.strip()[-400:]}")
    return result.returncode == 0


def error_lines(result):
    return [line for line in result.stderr.splitlines() if "error" in line]


def limits_under_load(binary, work, data_dir):
    """A corrupt image met mid-epoch (stop naming it, or skip it with --skip-bad), the data
    directory deleted while the run trains, and a disk-full log write: one clear error, the last
    checkpoint intact."""
    pruning = {"method": "none"}
    images = sorted(f for f in os.listdir(os.path.join(data_dir, "images")))
    dataset = json.load(open(os.path.join(data_dir, "dataset_shapes.json")))
    train_files = {im["filename"] for im in dataset["images"] if im["split"] in ("train", "restval")}
    victim = sorted(train_files)[len(train_files) // 2]
    check(victim in images, f"training image {victim} not found in {data_dir}/images")

    for skip in (False, True):
        label = "corrupt image" + (" with --skip-bad" if skip else "")
        copy = os.path.join(work, "data_corrupt" + ("_skip" if skip else ""))
        shutil.copytree(data_dir, copy)
        with open(os.path.join(copy, "images", victim), "r+b") as f:
            f.truncate(40)  # a PNG cut inside its first chunk
        config_path = os.path.join(work, f"corrupt{int(skip)}.json")
        with open(config_path, "w") as f:
            json.dump(config(copy, pruning), f)
        run_dir = os.path.join(work, f"corrupt{int(skip)}_run")
        result = run(binary, ["train", "--config", config_path, "--out", run_dir] + (["--skip-bad"] if skip else []))
        if skip:
            warnings = [line for line in result.stderr.splitlines() if "warning: skipped" in line]
            check(result.returncode == 0, f"{label}: exit {result.returncode}: {error_lines(result)}")
            check(warnings and all(victim in w for w in warnings), f"{label}: expected warnings naming {victim}")
        else:
            lines = error_lines(result)
            check(result.returncode == 1, f"{label}: expected exit 1, got {result.returncode}")
            check(len(lines) == 1 and victim in lines[0] and "training stopped" in lines[0],
                  f"{label}: expected one error line naming {victim}, got {lines}")
        print(f"ok: {label}")

    # The data directory deleted while training: the run either had what it needed (exit 0) or
    # stops with one error naming a missing file; the last checkpoint resumes once the data is back.
    label = "data directory deleted mid-run"
    copy = os.path.join(work, "data_deleted")
    shutil.copytree(data_dir, copy)
    config_path = os.path.join(work, "deleted.json")
    long_config = config(copy, pruning)
    long_config["optim"]["max_steps"] = 200
    with open(config_path, "w") as f:
        json.dump(long_config, f)
    run_dir = os.path.join(work, "deleted_run")
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    env.pop("SPARSECAP_CRASH_AT", None)
    child = subprocess.Popen([binary, "train", "--config", config_path, "--out", run_dir], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    last = os.path.join(run_dir, "checkpoints", "last.safetensors")
    deadline = time.monotonic() + 300
    while not os.path.exists(last) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    backup = copy + "_backup"
    shutil.copytree(copy, backup)
    shutil.rmtree(copy)
    stderr = child.communicate(timeout=600)[1]
    lines = [line for line in stderr.splitlines() if "error" in line]
    check(child.returncode >= 0, f"{label}: killed by signal {-child.returncode}")
    if child.returncode != 0:
        check(len(lines) == 1 and copy in lines[0], f"{label}: expected one error line naming a file in {copy}, "
                                                     f"got {lines}")
        shutil.move(backup, copy)
        result = run(binary, ["train", "--out", run_dir, "--resume"])
        check(result.returncode == 0, f"{label}: resuming from the last checkpoint failed: {error_lines(result)}")
    print(f"ok: {label} (exit {child.returncode})")

    # The disk fills up under the log: log.jsonl is /dev/full, where every write fails with ENOSPC.
    # Only validation records are logged here (log_every is past the end), so the step-5 checkpoint
    # is written before the step-6 validation record fails; the run stops with one error line naming
    # the log, and with space back (the log a plain file again) it resumes from that checkpoint.
    label = "disk full under the log"
    run_dir = os.path.join(work, "disk_full_run")
    os.makedirs(run_dir)
    os.symlink("/dev/full", os.path.join(run_dir, "log.jsonl"))
    full_config = config(data_dir, pruning)
    full_config["schedule"]["log_every"] = 1000
    config_path = os.path.join(work, "disk_full.json")
    with open(config_path, "w") as f:
        json.dump(full_config, f)
    result = run(binary, ["train", "--config", config_path, "--out", run_dir])
    lines = error_lines(result)
    check(result.returncode == 1, f"{label}: expected exit 1, got {result.returncode}")
    check(len(lines) == 1 and "log.jsonl" in lines[0] and "disk full" in lines[0],
          f"{label}: expected one error line naming log.jsonl, got {lines}")
    last = os.path.join(run_dir, "checkpoints", "last.safetensors")
    check(os.path.exists(last), f"{label}: the step-5 checkpoint is missing")
    os.remove(os.path.join(run_dir, "log.jsonl"))
    result = run(binary, ["train", "--out", run_dir, "--resume"])
    check(result.returncode == 0, f"{label}: resuming after the disk-full error failed: {error_lines(result)}")
    check(os.path.exists(os.path.join(run_dir, "checkpoints", "final.safetensors")),
          f"{label}: the resumed run wrote no final checkpoint")
    print(f"ok: {label}")


def main():
    binary, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data_dir = os.path.join(work, "shapes")
    for method, pruning in (("supermask", {"method": "supermask", "target_sparsity": 0.5}),):
        config_path = os.path.join(work, f"{method}.json")
        with open(config_path, "w") as f:
            json.dump(config(data_dir, pruning), f)
        reference = os.path.join(work, f"{method}_whole")
        result = run(binary, ["train", "--config", config_path, "--out", reference])
        if result.returncode != 0:
            print(result.stdout, result.stderr)
            sys.exit(f"the uninterrupted run failed with exit code {result.returncode}")

        # step:N dies in the N-th step; checkpoint-write:N in the N-th safetensors write (last,
        # best and final checkpoints count); validation:N in the N-th validation.
        for point in ("step:3", "step:13", "checkpoint-write:1", "checkpoint-write:4", "validation:1",
                      "validation:3"):
            label = f"{method} killed at {point}"
            run_dir = os.path.join(work, f"{method}_{point.replace(':', '_')}")
            result = run(binary, ["train", "--config", config_path, "--out", run_dir],
                         {"SPARSECAP_CRASH_AT": point})
            check(result.returncode == -signal.SIGKILL,
                  f"{label}: expected death by SIGKILL, got exit {result.returncode}")
            if not os.path.exists(os.path.join(run_dir, "checkpoints", "last.safetensors")):
                # Killed before the first checkpoint: nothing to resume, a fresh start is the recovery.
                result = run(binary, ["train", "--config", config_path, "--out", run_dir])
                check(result.returncode == 0, f"{label}: restart failed: {result.stderr.strip()}")
            elif not resume_to_end(binary, run_dir, label):
                continue
            compare_runs(reference, run_dir, label)
            print(f"ok: {label}")

        # A checkpoint write that fails part-way: the file-size limit lets the log grow but not a
        # whole checkpoint, so the first checkpoint after resuming fails in the middle.
        label = f"{method} checkpoint write over RLIMIT_FSIZE"
        run_dir = os.path.join(work, f"{method}_fsize")
        result = run(binary, ["train", "--config", config_path, "--out", run_dir], {"SPARSECAP_CRASH_AT": "step:11"})
        check(result.returncode == -signal.SIGKILL, f"{label}: expected death by SIGKILL, got {result.returncode}")
        last = os.path.join(run_dir, "checkpoints", "last.safetensors")
        before = read(last)
        limit = len(before) // 2

        def limit_file_size():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        result = run(binary, ["train", "--out", run_dir, "--resume"], preexec=limit_file_size)
        # stderr also carries the progress bar; the error is the one "sparsecap: error:" line.
        error_lines = [line for line in result.stderr.splitlines() if "error" in line]
        check(result.returncode == 1, f"{label}: expected exit code 1, got {result.returncode}")
        check(len(error_lines) == 1 and "not saved" in error_lines[0] and
              ("is unchanged" in error_lines[0] or "no earlier" in error_lines[0]),
              f"{label}: expected one error line saying the previous checkpoint is unchanged, got {error_lines}")
        check(read(last) == before, f"{label}: last.safetensors changed")
        if resume_to_end(binary, run_dir, label):
            compare_runs(reference, run_dir, label)
            print(f"ok: {label}")

    limits_under_load(binary, work, data_dir)
    if failures:
        sys.exit(f"{len(failures)} failure(s)")
    shutil.rmtree(work, ignore_errors=True)
    print("all kill/resume checks passed")


if __name__ == "__main__":
    main()
