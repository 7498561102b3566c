#!/usr/bin/env bash
# GPU session for #5: Table 2 protocol with the cross-scale kernel estimator, on the
# held-out photos (where the width calibration is chosen) and on Set14 (Table 2 itself),
# with the bicubic-kernel and true-kernel rows re-run beside them on the same GPU.
#
#   RUNS=/tmp/r ZSSR_DATA=.carry/data HELDOUT=.carry/heldout bash experiments/kernel_estimation/run_gpu_crossscale.sh
#
# HELDOUT is a folder of the nine held-out scikit-image photos (benchmarks/kernel_checks.py,
# heldout_folder). Resumable: rerunning skips finished images. The harness no longer has
# estimator=crossscale (#12): each run goes through crossscale_table2.py run, which puts it back
# in the method registry under the same label. Results of the H100 session:
# benchmarks/results/gpu_h100_crossscale (report: crossscale_table2.py).
# Dry run on CPU: DEVICE=cpu EXTRA=",max_iterations=2" LIMIT=1.
set -u
RUNS=${RUNS:-bench-runs/gpu_crossscale}
HELDOUT=${HELDOUT:-.carry/heldout}
DEVICE=${DEVICE:-cuda}
EXTRA=${EXTRA:-}
BUDGET_S=${BUDGET_S:-420}
LIMIT=${LIMIT:-}
export PYTHONPATH=${PYTHONPATH:-}:$(pwd)/src
export PYTHONUNBUFFERED=1
# Several bench processes share the machine: without this each takes every core (run 1 of
# benchmarks/results/gpu_h100_crossscale oversubscribed 16 cores ~6× and finished little).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} MKL_NUM_THREADS=${MKL_NUM_THREADS:-2}
mkdir -p "$RUNS"
lim=${LIMIT:+--limit $LIMIT}
bench() { timeout "$BUDGET_S" python3 experiments/kernel_estimation/crossscale_table2.py run --quiet --device "$DEVICE" \
            --data-root "$ZSSR_DATA" $lim "$@"; }
XS="zssr+estimated-kernel:estimator=crossscale,preset=kernel$EXTRA"
XSC="zssr+estimated-kernel:estimator=crossscale,width_correction=true,preset=kernel$EXTRA"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$RUNS/gpu.txt" 2>&1 || true
python3 -c "import torch, platform; print('torch', torch.__version__, 'python', platform.python_version(), 'cuda', torch.cuda.is_available())" >> "$RUNS/gpu.txt" 2>&1
nproc >> "$RUNS/gpu.txt"

( python3 -m pytest -q -k cuda tests > "$RUNS/gpu_tests.log" 2>&1; echo "exit $?" >> "$RUNS/gpu_tests.log" ) &
for m in "zssr:preset=ideal$EXTRA" "zssr+true-kernel:preset=kernel$EXTRA" "$XS" "$XSC"; do
  tag=$(echo "$m" | tr -c 'a-z0-9\n' '_' | cut -c1-60)
  bench --set "$HELDOUT" --methods "$m" --jobs 2 --out "$RUNS/heldout" > "$RUNS/heldout_$tag.log" 2>&1 &
  bench --set Set14 --methods "$m" --jobs 3 --out "$RUNS/table2_set14" > "$RUNS/set14_$tag.log" 2>&1 &
done
wait
ALL="zssr:preset=ideal$EXTRA;zssr+true-kernel:preset=kernel$EXTRA;$XS;$XSC"
bench --set "$HELDOUT" --methods "$ALL" --out "$RUNS/heldout" > "$RUNS/heldout_table.log" 2>&1
bench --set Set14 --methods "$ALL" --out "$RUNS/table2_set14" > "$RUNS/set14_table.log" 2>&1
