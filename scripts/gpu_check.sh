#!/usr/bin/env bash
# One command to see that sparsecap works on a GPU machine (docs/cuda.md, "Checking a GPU machine"):
# the GPU test instances, compute-sanitizer memcheck and racecheck over the CUDA op suite (when the
# tool exists), a short SA + Supermask training on the GPU and on the CPU with the same seed whose
# loss curves must agree, evaluation and export of the GPU run, and the GPU benchmarks. Prints one
# summary table and writes every check's log to one folder.
#
#   scripts/gpu_check.sh [--build DIR] [--steps N] [--require-gpu] [LOG_DIR]
#   scripts/gpu_check.sh --compare CPU_RUN GPU_RUN    # only the loss comparison of two runs
#
# Runs from a source tree (binaries in build/bin, or --build DIR) or from an unpacked
# scripts/gpu_bundle.sh bundle (bin/, lib/, configs/ next to this script). It finds the CUDA and
# cuDNN libraries itself (CUDA toolkit folders, the system library folders, nvidia/*/lib in Python
# site-packages) and checks with ldd that every binary's libraries resolve before running anything.
#
# LOG_DIR: the argument, else $OUT, else ./gpu_check_logs.
# Exit status: 0 no check failed (also when there is no GPU: every GPU check is then SKIP, unless
# --require-gpu), 1 a check failed, 2 bad arguments or binaries missing, 3 a shared library missing.
# Tolerances of the loss comparison (relative): GPU_CHECK_STEP_RTOL (default 0.02) at every logged
# step, GPU_CHECK_MEAN_RTOL (default 0.01) for the mean over the last 50 steps.
set -uo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
steps=200
build_dir=""
require_gpu=0
compare=()
log_dir=""
while (($#)); do
  case "$1" in
    --build) build_dir=${2:?--build needs a folder}; shift 2 ;;
    --steps) steps=${2:?--steps needs a number}; shift 2 ;;
    --require-gpu) require_gpu=1; shift ;;
    --compare) compare=("${2:?--compare needs two runs}" "${3:?--compare needs two runs}"); shift 3 ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) log_dir=$1; shift ;;
  esac
done
[[ "$steps" =~ ^[1-9][0-9]*$ ]] || { echo "gpu_check: --steps must be a positive integer, got '$steps'" >&2; exit 2; }
step_rtol=${GPU_CHECK_STEP_RTOL:-0.02}
mean_rtol=${GPU_CHECK_MEAN_RTOL:-0.01}
check_timeout=${GPU_CHECK_TIMEOUT:-3600}  # seconds, per command

# compare_loss_curves CPU_LOG GPU_LOG STEPS: both caption losses at every logged step and the
# verdict, ending with a line "RESULT PASS|FAIL detail". python3 if there is one, else awk.
compare_loss_curves() {
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$1" "$2" "$step_rtol" "$mean_rtol" "$3" <<'EOF'
import json, sys
cpu_log, gpu_log = sys.argv[1], sys.argv[2]
step_rtol, mean_rtol, steps = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])

def losses(path):
    out = {}
    for line in open(path):
        record = json.loads(line)
        if "caption_loss" in record:
            out[record["step"]] = float(record["caption_loss"])
    return out

cpu, gpu = losses(cpu_log), losses(gpu_log)
common = sorted(set(cpu) & set(gpu))
if not common:
    print("RESULT FAIL no common logged steps")
    sys.exit(0)
print("step cpu cuda rel_diff")
worst, worst_step = -1.0, None
for s in common:
    rel = abs(gpu[s] - cpu[s]) / max(abs(cpu[s]), 1e-12)
    print(s, cpu[s], gpu[s], "%.5f" % rel)
    if rel > worst:
        worst, worst_step = rel, s
if steps <= 0:
    steps = common[-1]
tail = [s for s in common if s > steps - 50] or common[-1:]
mean_cpu = sum(cpu[s] for s in tail) / len(tail)
mean_gpu = sum(gpu[s] for s in tail) / len(tail)
mean_rel = abs(mean_gpu - mean_cpu) / max(abs(mean_cpu), 1e-12)
print("mean over steps %s: cpu %.6f cuda %.6f rel_diff %.5f" % (tail, mean_cpu, mean_gpu, mean_rel))
same_steps = len(common) == len(cpu) == len(gpu)
if not same_steps:
    print("logged steps differ: cpu %d, cuda %d, common %d" % (len(cpu), len(gpu), len(common)))
ok = worst <= step_rtol and mean_rel <= mean_rtol and same_steps
print("RESULT %s %d steps compared, max rel diff %.2f%% (step %s, limit %g%%), last-50 mean %.2f%% (limit %g%%)%s"
      % ("PASS" if ok else "FAIL", len(common), 100 * worst, worst_step, 100 * step_rtol, 100 * mean_rel,
         100 * mean_rtol, "" if same_steps else ", logged steps differ"))
EOF
  else
    awk -v step_rtol="$step_rtol" -v mean_rtol="$mean_rtol" -v steps="$3" '
      function field(name,   t) {
        if (!match($0, "\"" name "\"[ ]*:[ ]*[-0-9.eE+]+")) return ""
        t = substr($0, RSTART, RLENGTH); sub(/^[^:]*:[ ]*/, "", t); return t
      }
      FNR == 1 { file++ }
      { l = field("caption_loss"); if (l == "") next; s = field("step"); loss[file, s] = l; count[file]++
        if (file == 1) order[++n] = s }
      END {
        print "step cpu cuda rel_diff"
        if (steps <= 0) steps = order[n]
        worst = -1
        for (i = 1; i <= n; i++) {
          s = order[i]; if (!((2, s) in loss)) continue
          c = loss[1, s]; g = loss[2, s]; d = c - g; if (d < 0) d = -d; a = c < 0 ? -c : c
          rel = d / (a > 1e-12 ? a : 1e-12); print s, c, g, rel; compared++
          if (rel > worst) { worst = rel; worst_step = s }
          if (s > steps - 50) { sum_cpu += c; sum_gpu += g; tail++ }
        }
        if (compared == 0) { print "RESULT FAIL no common logged steps"; exit }
        if (tail == 0) { sum_cpu = c; sum_gpu = g; tail = 1 }
        mc = sum_cpu / tail; mg = sum_gpu / tail; d = mc - mg; if (d < 0) d = -d; a = mc < 0 ? -mc : mc
        mrel = d / (a > 1e-12 ? a : 1e-12)
        same = compared == count[1] && compared == count[2]
        ok = worst <= step_rtol && mrel <= mean_rtol && same
        printf "RESULT %s %d steps compared, max rel diff %.2f%% (step %s, limit %g%%), last-50 mean %.2f%% (limit %g%%)%s\n",
               ok ? "PASS" : "FAIL", compared, 100 * worst, worst_step, 100 * step_rtol, 100 * mrel, 100 * mean_rtol,
               same ? "" : ", logged steps differ"
      }' "$1" "$2"
  fi
}

# --compare CPU_RUN GPU_RUN: only the loss comparison of two existing runs (folders or log.jsonl).
if ((${#compare[@]})); then
  logs=()
  for run in "${compare[@]}"; do
    if [[ -d "$run" ]]; then logs+=("$run/log.jsonl"); else logs+=("$run"); fi
  done
  for f in "${logs[@]}"; do [[ -f "$f" ]] || { echo "gpu_check: $f not found" >&2; exit 2; }; done
  result=$(compare_loss_curves "${logs[0]}" "${logs[1]}" 0)
  echo "$result"
  grep -q '^RESULT PASS' <<< "$result"
  exit $?
fi

# ---- layout: bundle or source tree ---------------------------------------------------------------
if [[ -x "$script_dir/bin/sparsecap" ]]; then
  layout="bundle"
  root=$script_dir
  bin_dir=$root/bin
  configs_dir=$root/configs
  [[ -d "$root/lib" ]] && export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  layout="source tree"
  root=$(cd "$script_dir/.." && pwd)
  configs_dir=$root/configs
  if [[ -n "$build_dir" ]]; then
    bin_dir=$(cd "$build_dir" 2>/dev/null && pwd)/bin
  else
    bin_dir=""
    for candidate in "$root"/build "$root"/build-gpu-*; do
      if [[ -x "$candidate/bin/sparsecap" ]]; then bin_dir=$candidate/bin; break; fi
    done
  fi
fi
if [[ -z "${bin_dir:-}" || ! -x "$bin_dir/sparsecap" ]]; then
  echo "gpu_check: no sparsecap binary found (looked in ${bin_dir:-$root/build/bin and $root/build-gpu-*/bin}); build first or pass --build DIR" >&2
  exit 2
fi
[[ -f "$configs_dir/sa_supermask.json" ]] || { echo "gpu_check: $configs_dir/sa_supermask.json is missing" >&2; exit 2; }

log_dir=${log_dir:-${OUT:-./gpu_check_logs}}
mkdir -p "$log_dir" || exit 2
log_dir=$(cd "$log_dir" && pwd)
summary_file=$log_dir/summary.txt
absent="not built"; [[ "$layout" == bundle ]] && absent="not in the bundle"
: > "$summary_file"

# Binaries this script uses; absent optional ones are reported as SKIP.
required_binaries=(sparsecap test_cuda_ops test_models_on_cuda)
optional_binaries=(test_trainer test_decoding_on_cuda bench_cuda bench_train)
binaries=()
for b in "${required_binaries[@]}"; do
  [[ -x "$bin_dir/$b" ]] || { echo "gpu_check: $bin_dir/$b is missing" >&2; exit 2; }
  binaries+=("$bin_dir/$b")
done
for b in "${optional_binaries[@]}"; do [[ -x "$bin_dir/$b" ]] && binaries+=("$bin_dir/$b"); done

# ---- shared libraries: find the CUDA and cuDNN folders, then check with ldd -----------------------
# Libraries ldd cannot resolve, one per line (unique).
missing_libraries() {
  local b
  for b in "${binaries[@]}"; do ldd "$b" 2>/dev/null | awk '/=> not found/ {print $1}'; done | sort -u
}

# Folders where CUDA / cuDNN libraries usually are; globs that match nothing are dropped.
candidate_library_dirs() {
  local d
  for d in ${CUDA_HOME:+"$CUDA_HOME"/lib64} ${CUDA_PATH:+"$CUDA_PATH"/lib64} \
           /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 \
           /usr/local/cuda-*/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/lib \
           /usr/local/cuda/lib /usr/lib/wsl/lib; do
    [[ -d "$d" ]] && echo "$d"
  done
  # nvidia/<package>/lib of the pip wheels (cuDNN is often only there, e.g. with PyTorch).
  for d in $(python_site_dirs); do
    for lib in "$d"/nvidia/*/lib; do [[ -d "$lib" ]] && echo "$lib"; done
  done
}

# site-packages (dist-packages on Debian) of the python3 on PATH, of an active virtual or conda
# environment, and of environments in a few usual places (bounded: 6 levels, 20 s per place).
python_site_dirs() {
  {
    if command -v python3 >/dev/null 2>&1; then
      timeout 20 python3 -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null
    fi
    local r
    for r in ${VIRTUAL_ENV:+"$VIRTUAL_ENV"} ${CONDA_PREFIX:+"$CONDA_PREFIX"} "$HOME" /opt /workspace /venv /usr/local/lib /usr/lib; do
      [[ -d "$r" ]] || continue
      timeout 20 find "$r" -maxdepth 6 -type d \( -name site-packages -o -name dist-packages \) -prune -print 2>/dev/null
    done
  } | sort -u
}

# A folder holding library file $1, from the usual folders, else from a bounded find.
find_library_dir() {
  local name=$1 d found
  while read -r d; do
    if [[ -e "$d/$name" ]]; then echo "$d"; return 0; fi
  done < <(candidate_library_dirs)
  for d in /usr/local /opt "$HOME" /usr/lib; do
    [[ -d "$d" ]] || continue
    found=$(timeout 30 find "$d" -maxdepth 7 -name "$name" \( -type f -o -type l \) -print -quit 2>/dev/null)
    if [[ -n "$found" ]]; then dirname "$found"; return 0; fi
  done
  return 1
}

added_dirs=()
for _round in 1 2 3 4 5; do
  missing=$(missing_libraries)
  [[ -z "$missing" ]] && break
  progress=0
  while read -r lib; do
    [[ -n "$lib" ]] || continue
    if dir=$(find_library_dir "$lib"); then
      case ":${LD_LIBRARY_PATH:-}:" in *":$dir:"*) ;; *)
        export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; added_dirs+=("$dir"); progress=1 ;;
      esac
    fi
  done <<< "$missing"
  ((progress)) || break
done
# cuDNN loads its sub-libraries (libcudnn_ops, _cnn, _engines_*) with dlopen from the folder of
# libcudnn.so.9: that folder must be on LD_LIBRARY_PATH even when ldd found libcudnn elsewhere.
cudnn_path=$(ldd "$bin_dir/sparsecap" 2>/dev/null | awk '/libcudnn\.so/ && $3 ~ /^\// {print $3; exit}')
if [[ -n "$cudnn_path" ]]; then
  cudnn_dir=$(dirname "$cudnn_path")
  case ":${LD_LIBRARY_PATH:-}:" in *":$cudnn_dir:"*) ;; *)
    export LD_LIBRARY_PATH="$cudnn_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; added_dirs+=("$cudnn_dir") ;;
  esac
fi
{
  echo "layout: $layout ($root)"
  echo "binaries: $bin_dir"
  echo "added to LD_LIBRARY_PATH: ${added_dirs[*]:-(nothing)}"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  for b in "${binaries[@]}"; do echo "== ldd $b"; ldd "$b"; done
} > "$log_dir/libraries.log" 2>&1
missing=$(missing_libraries)
if [[ -n "$missing" ]]; then
  first=$(head -n1 <<< "$missing")
  needed_by=$(for b in "${binaries[@]}"; do ldd "$b" 2>/dev/null | grep -q "^[[:space:]]*$first => not found" && basename "$b"; done | paste -sd, - | sed 's/,/, /g')
  echo "gpu_check: error: shared library $first (needed by $needed_by) not found; searched the CUDA folders, the system library folders and nvidia/*/lib in Python site-packages; put its folder on LD_LIBRARY_PATH and run again (all missing: $(paste -sd' ' - <<< "$missing"); details in $log_dir/libraries.log)" >&2
  exit 3
fi

# ---- helpers ---------------------------------------------------------------------------------------
failures=0
# record NAME STATUS DETAIL: one row of the summary table.
record() {
  printf '%-30s %-5s %s\n' "$1" "$2" "$3" >> "$summary_file"
  printf 'gpu_check: %-30s %-5s %s\n' "$1" "$2" "$3"
  [[ "$2" == FAIL ]] && failures=$((failures + 1))
  return 0
}
# run_logged LOG COMMAND...: runs in $log_dir with a time limit, output to LOG; returns its status.
run_logged() {
  local log=$1; shift
  echo "+ $*" > "$log"
  (cd "$log_dir" && timeout "$check_timeout" "$@") >> "$log" 2>&1
}
has_option() {  # has_option "SUBCOMMAND..." --flag: whether `sparsecap SUBCOMMAND --help` lists it
  local sub=$1 flag=$2
  # shellcheck disable=SC2086  # $sub is one or two words on purpose
  "$bin_dir/sparsecap" $sub --help 2>/dev/null | grep -q -- "$flag\b"
}
python=""
command -v python3 >/dev/null 2>&1 && python=python3

# ---- the device ------------------------------------------------------------------------------------
"$bin_dir/sparsecap" info > "$log_dir/info.log" 2>&1
info_status=$?
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >> "$log_dir/info.log" 2>&1
gpu=""
no_gpu_reason=""
if ((info_status != 0)); then
  record "sparsecap info" FAIL "exit $info_status (see info.log)"
  no_gpu_reason="sparsecap info failed"
elif grep -q "built without CUDA" "$log_dir/info.log"; then
  no_gpu_reason="sparsecap built without CUDA"
  record "sparsecap info" PASS "$no_gpu_reason"
elif gpu=$(grep -m1 '^cuda:0 ' "$log_dir/info.log" | sed 's/^cuda:0 *//'); [[ -n "$gpu" ]]; then
  record "sparsecap info" PASS "cuda:0 $gpu"
else
  no_gpu_reason="no CUDA device"
  record "sparsecap info" PASS "$(grep -m1 '^cuda: ' "$log_dir/info.log" | sed 's/^cuda: *//'); no device found"
fi
have_gpu=0
[[ -n "$gpu" ]] && have_gpu=1
# The GPU runs below need `--device` on train and eval (issue 16); an older binary trains on the
# CPU whatever it is asked, so its absence is a failure with a GPU or without.
lacking=()
for sub in train eval; do has_option "$sub" --device || lacking+=("$sub"); done
if ((${#lacking[@]})); then
  record "--device option" FAIL "no --device on: sparsecap $(printf '%s\n' "${lacking[@]}" | paste -sd, - | sed 's/,/, sparsecap /g') (binary predates issue 16)"
else record "--device option" PASS "train, eval"; fi

# ---- GPU test instances ----------------------------------------------------------------------------
# binary|gtest filter. Every test of the first three needs a GPU; of test_trainer only these.
gpu_tests=(
  "test_cuda_ops|*"
  "test_models_on_cuda|*"
  "test_decoding_on_cuda|*"
  "test_trainer|FrozenFeatureCacheTest.StoresOnTheModelsDevice:TrainerTest.RunResumesOnTheOtherDevice"
)
# gtest_counts LOG: "ran passed skipped failed" from GoogleTest's closing lines.
gtest_counts() {
  awk '
    /^\[==========\] [0-9]+ tests? from .* ran/ {ran = $2}
    /^\[  PASSED  \] [0-9]+ test/ {passed = $4}
    /^\[  SKIPPED \] [0-9]+ test/ {skipped = $4}
    /^\[  FAILED  \] [0-9]+ test/ {failed = $4}
    END {print ran + 0, passed + 0, skipped + 0, failed + 0}' "$1"
}
for entry in "${gpu_tests[@]}"; do
  name=${entry%%|*}
  filter=${entry#*|}
  if [[ ! -x "$bin_dir/$name" ]]; then
    record "$name" SKIP "$absent"
    continue
  fi
  # Also without a GPU: the binary must start and skip cleanly.
  run_logged "$log_dir/$name.log" "$bin_dir/$name" "--gtest_filter=$filter"
  status=$?
  read -r ran passed skipped failed < <(gtest_counts "$log_dir/$name.log")
  if ((status != 0)); then
    record "$name" FAIL "exit $status; $failed failed, $passed passed of $ran"
  elif ((ran == 0)); then
    record "$name" SKIP "no test matched '$filter'"
  elif ((passed == 0)); then
    if ((have_gpu)); then record "$name" FAIL "all $skipped skipped although cuda:0 exists"
    else record "$name" SKIP "$skipped/$ran skipped ($no_gpu_reason)"; fi
  else
    detail="$passed/$ran passed"
    ((skipped > 0)) && detail+=", $skipped skipped (see $name.log)"
    record "$name" PASS "$detail"
  fi
done

# ---- compute-sanitizer over the CUDA op suite -------------------------------------------------------
sanitizer=$(command -v compute-sanitizer 2>/dev/null)
if [[ -z "$sanitizer" ]]; then
  for candidate in ${CUDA_HOME:+"$CUDA_HOME"/bin} /usr/local/cuda/bin /usr/local/cuda-*/bin \
                   /usr/local/cuda/compute-sanitizer /usr/local/cuda-*/compute-sanitizer /opt/nvidia/*/bin; do
    [[ -x "$candidate/compute-sanitizer" ]] && { sanitizer=$candidate/compute-sanitizer; break; }
  done
fi
for tool in memcheck racecheck; do
  if ((!have_gpu)); then record "compute-sanitizer $tool" SKIP "$no_gpu_reason"; continue; fi
  if [[ -z "$sanitizer" ]]; then record "compute-sanitizer $tool" SKIP "compute-sanitizer not found"; continue; fi
  run_logged "$log_dir/sanitizer_$tool.log" "$sanitizer" --tool "$tool" --error-exitcode 97 \
    "$bin_dir/test_cuda_ops"
  status=$?
  errors=$(grep -Eo 'ERROR SUMMARY: [0-9]+' "$log_dir/sanitizer_$tool.log" | tail -n1 | awk '{print $3}')
  read -r ran passed skipped failed < <(gtest_counts "$log_dir/sanitizer_$tool.log")
  if ((status == 0)) && [[ "${errors:-x}" == 0 ]]; then
    record "compute-sanitizer $tool" PASS "0 errors; test_cuda_ops $passed/$ran passed"
  else
    record "compute-sanitizer $tool" FAIL "exit $status, ${errors:-?} errors, $failed tests failed (see sanitizer_$tool.log)"
  fi
done

# ---- training on the GPU and on the CPU, same seed --------------------------------------------------
data_dir=$log_dir/data
train_args=(--config "$configs_dir/sa_supermask.json"
            --set "data.dir=$data_dir" --set optim.seed=1 --set optim.epochs=0 --set "optim.max_steps=$steps"
            --set schedule.log_every=10 --set schedule.validate_every=100 --set schedule.validation_images=40
            --set schedule.checkpoint_every=100)
gpu_run=$log_dir/run_cuda
cpu_run=$log_dir/run_cpu
gpu_trained=0
if ((!have_gpu)); then
  record "train SA+Supermask cuda" SKIP "$no_gpu_reason"
  record "train SA+Supermask cpu" SKIP "no GPU run to compare with"
  record "loss curves cpu vs cuda" SKIP "$no_gpu_reason"
elif ! has_option train --device; then
  record "train SA+Supermask cuda" FAIL "this sparsecap has no 'train --device' option (built before issue 16)"
  record "train SA+Supermask cpu" SKIP "no GPU run to compare with"
  record "loss curves cpu vs cuda" SKIP "no GPU run"
else
  if [[ ! -f "$data_dir/dataset_shapes.json" ]]; then
    run_logged "$log_dir/data_synth.log" "$bin_dir/sparsecap" data synth --out "$data_dir" --images 400 --seed 1 --quiet \
      || record "synthetic data" FAIL "exit $? (see data_synth.log)"
  fi
  # ms per step from the last training record: elapsed_seconds / step (includes start-up).
  ms_per_step() {
    awk 'match($0, /"caption_loss":/) && match($0, /"elapsed_seconds":[-0-9.eE+]+/) {
           e = substr($0, RSTART + 18, RLENGTH - 18); match($0, /"step":[0-9]+/); s = substr($0, RSTART + 7, RLENGTH - 7) }
         END { if (s > 0) printf "%.1f", 1000 * e / s; else printf "?" }' "$1/log.jsonl" 2>/dev/null
  }
  for device in cuda cpu; do
    run=$log_dir/run_$device
    rm -rf "$run"
    run_logged "$log_dir/train_$device.log" "$bin_dir/sparsecap" train "${train_args[@]}" --out "$run" --device "$device"
    status=$?
    if ((status != 0)); then
      record "train SA+Supermask $device" FAIL "exit $status (see train_$device.log)"
      continue
    fi
    # The trainer names its device ("sparsecap: training on cuda:0 (...)"); refuse a silent CPU run.
    said=$(grep -m1 -o 'training on [^ ]*' "$log_dir/train_$device.log" | sed 's/training on //')
    if [[ "$device" == cuda && -n "$said" && "$said" != cuda* ]]; then
      record "train SA+Supermask cuda" FAIL "asked for cuda, trained on $said"
      continue
    fi
    detail="$steps steps, $(ms_per_step "$run") ms/step"
    [[ -z "$said" ]] && detail+=" (device not printed by sparsecap)"
    record "train SA+Supermask $device" PASS "$detail"
    [[ "$device" == cuda ]] && gpu_trained=1
  done
  if ((gpu_trained)) && [[ -f "$cpu_run/log.jsonl" ]]; then
    compare_log=$log_dir/loss_comparison.txt
    compare_loss_curves "$cpu_run/log.jsonl" "$gpu_run/log.jsonl" "$steps" > "$compare_log" 2>&1
    result=$(grep -m1 '^RESULT ' "$compare_log")
    if [[ -z "$result" ]]; then record "loss curves cpu vs cuda" FAIL "comparison failed (see loss_comparison.txt)"
    else read -r _ verdict detail <<< "$result"; record "loss curves cpu vs cuda" "$verdict" "$detail"; fi
  else
    record "loss curves cpu vs cuda" SKIP "a training run failed"
  fi
fi

# ---- evaluation and export of the GPU run ------------------------------------------------------------
cider_of() {  # CIDEr-D of a scores file written by `sparsecap eval`
  [[ -n "$python" ]] || { echo "?"; return; }
  "$python" -c '
import json, sys
def find(x):
    if isinstance(x, dict):
        if "CIDEr_D" in x:
            v = x["CIDEr_D"]
            return v.get("corpus") if isinstance(v, dict) else v
        for v in x.values():
            r = find(v)
            if r is not None: return r
    return None
v = find(json.load(open(sys.argv[1])))
print("?" if v is None else "%.3f" % v)' "$1" 2>/dev/null || echo "?"
}
if ((!gpu_trained)); then
  reason=$no_gpu_reason; ((have_gpu)) && reason="no GPU run"
  record "eval cuda" SKIP "$reason"
  record "export" SKIP "$reason"
else
  eval_args=(eval --run "$gpu_run" --split test --beam 3 --max-images 40 --loss-images 40)
  if ! has_option eval --device; then
    record "eval cuda" FAIL "this sparsecap has no 'eval --device' option"
  else
    run_logged "$log_dir/eval_cuda.log" "$bin_dir/sparsecap" "${eval_args[@]}" --device cuda
    status=$?
    cp "$gpu_run/eval/test_scores.json" "$log_dir/eval_cuda_scores.json" 2>/dev/null
    if ((status != 0)); then
      record "eval cuda" FAIL "exit $status (see eval_cuda.log)"
    else
      # The same checkpoint evaluated on the CPU, for comparison (not a pass criterion: a beam
      # search can take another branch on a near tie).
      run_logged "$log_dir/eval_cpu.log" "$bin_dir/sparsecap" "${eval_args[@]}" --device cpu \
        && cp "$gpu_run/eval/test_scores.json" "$log_dir/eval_cpu_scores.json" 2>/dev/null
      record "eval cuda" PASS "40 test images, CIDEr-D $(cider_of "$log_dir/eval_cuda_scores.json") (same checkpoint on the cpu: $(cider_of "$log_dir/eval_cpu_scores.json"))"
    fi
  fi
  export_args=(export --run "$gpu_run" --out "$log_dir/export/model.safetensors")
  has_option export --device && export_args+=(--device cuda)
  verify=""
  for flag in --verify --check; do has_option export "$flag" && { verify=$flag; break; }; done
  [[ -n "$verify" ]] && export_args+=("$verify")
  mkdir -p "$log_dir/export"
  run_logged "$log_dir/export.log" "$bin_dir/sparsecap" "${export_args[@]}"
  status=$?
  size=$(du -k "$log_dir"/export/model.safetensors* 2>/dev/null | awk '{s += $1} END {printf "%.1f MB", s / 1024}')
  if ((status != 0)); then record "export" FAIL "exit $status (see export.log)"
  elif [[ -n "$verify" ]]; then record "export round trip" PASS "$size, reloaded and checked ($verify)"
  else record "export" PASS "$size written; not reloaded: this sparsecap has no command that checks an export"; fi
fi

# ---- GPU benchmarks ---------------------------------------------------------------------------------
for bench in bench_cuda bench_train; do
  if [[ ! -x "$bin_dir/$bench" ]]; then record "$bench" SKIP "$absent"; continue; fi
  if ((!have_gpu)); then record "$bench" SKIP "$no_gpu_reason"; continue; fi
  bench_args=()
  [[ "$bench" == bench_train ]] && bench_args=(--device cuda)  # its CPU part is not this check's
  run_logged "$log_dir/$bench.log" "$bin_dir/$bench" "${bench_args[@]}"
  status=$?
  if ((status != 0)); then record "$bench" FAIL "exit $status (see $bench.log)"
  else record "$bench" PASS "results in $bench.log"; fi
done

# ---- summary ----------------------------------------------------------------------------------------
echo
echo "sparsecap GPU check ($layout, $bin_dir); logs in $log_dir"
printf '%-30s %-5s %s\n' "check" "state" "detail"
printf '%-30s %-5s %s\n' "-----" "-----" "------"
cat "$summary_file"
if ((!have_gpu)); then
  echo "no GPU: nothing on the GPU was checked ($no_gpu_reason)"
  ((require_gpu)) && { echo "--require-gpu: failing"; exit 1; }
fi
if ((failures > 0)); then echo "$failures check(s) FAILED"; exit 1; fi
echo "no check failed"
exit 0
