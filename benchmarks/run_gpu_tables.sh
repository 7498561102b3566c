#!/usr/bin/env bash
# The GPU benchmark session: CUDA tests, then the paper's Tables 1-3 through `zssr bench`,
# run side by side on one GPU. Results (per-image JSON/PNG, CSV, table.md, figures) land in
# $RUNS; `tar` them for the trip back. Resumable: rerunning skips finished images.
#
#   RUNS=bench-runs/gpu ZSSR_DATA=.carry/data bash benchmarks/run_gpu_tables.sh
# (It was benchmarks/run_gpu.sh until issue #14 gave that name to the device-engine session.)
#
# EXTRA appends method options (a dry run on CPU: EXTRA=",max_iterations=2" KGAN_IT=3 DEVICE=cpu).
set -u
RUNS=${RUNS:-bench-runs/gpu}
EXTRA=${EXTRA:-}
KGAN_IT=${KGAN_IT:-3000}
DEVICE=${DEVICE:-cuda}
LIMIT=${LIMIT:-}
BUDGET_S=${BUDGET_S:-480}
export PYTHONPATH=${PYTHONPATH:-}:$(pwd)/src
export PYTHONUNBUFFERED=1
mkdir -p "$RUNS"
lim=${LIMIT:+--limit $LIMIT}
bench() { timeout "$BUDGET_S" python3 -m zssr bench --quiet --device "$DEVICE" --data-root "$ZSSR_DATA" $lim "$@"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$RUNS/gpu.txt" 2>&1 || true
python3 -c "import torch, platform; print('torch', torch.__version__, 'python', platform.python_version(), 'cuda', torch.cuda.is_available())" >> "$RUNS/gpu.txt" 2>&1

( python3 -m pytest -q -k cuda tests > "$RUNS/gpu_tests.log" 2>&1; echo "exit $?" >> "$RUNS/gpu_tests.log" ) &

# Table 1: ideal (bicubic) degradation, the paper's SelfExSR inputs.
bench --dataset Set5 --scale 2 --method bicubic --method "zssr:preset=ideal$EXTRA" --jobs 5 --out "$RUNS/table1_set5" > "$RUNS/table1_set5.log" 2>&1 &
bench --dataset Set14 --scale 2 --method bicubic --method "zssr:preset=ideal$EXTRA" --jobs 5 --out "$RUNS/table1_set14" > "$RUNS/table1_set14.log" 2>&1 &
# Table 2: random anisotropic Gaussian kernels; bicubic-kernel vs estimated vs true kernel.
bench --dataset Set14 --scale 2 --degradation gaussian-kernel --method bicubic --method "zssr:preset=ideal$EXTRA" \
  --method "zssr+true-kernel:preset=kernel$EXTRA" --method "zssr+estimated-kernel:preset=kernel,iterations=$KGAN_IT$EXTRA" \
  --jobs 5 --out "$RUNS/table2_set14" > "$RUNS/table2_set14.log" 2>&1 &
# Table 3: degraded inputs (Gaussian noise / speckle / JPEG 45), real-image preset.
bench --dataset Set14 --scale 2 --degradation degraded --method bicubic --method "zssr:preset=real$EXTRA" \
  --method "zssr:preset=ideal$EXTRA" --jobs 3 --out "$RUNS/table3_set14" > "$RUNS/table3_set14.log" 2>&1 &
# The authors' off-image crops vs ours, same protocol as Table 1.
bench --dataset Set5 --scale 2 --method "zssr:preset=ideal,legacy_crops=true$EXTRA" --jobs 3 --out "$RUNS/crops_set5" > "$RUNS/crops_set5.log" 2>&1 &
wait
