#!/usr/bin/env bash
# GPU session for #5: Table 2 protocol with the edge-profile estimator (and the generic
# σ = 1.33 kernel beside it) on the held-out photos and on Set14; the reference rows of the
# same inputs are results/gpu_h100_crossscale. Report: benchmarks/edgeblur_table2.py report.
#
#   RUNS=/tmp/r bash benchmarks/run_gpu_edges.sh        (data in .carry/data, .carry/heldout)
#
# One bench process per set, both methods in its pool, one torch thread per worker: 16 workers
# on the machine's 16 cores (results/gpu_h100_crossscale run 1: oversubscribed cores finish little).
# Resumable: rerunning skips finished images (their PNGs must be there).
# Dry run on CPU: DEVICE=cpu EXTRA=",max_iterations=2" LIMIT=1.
set -u
RUNS=${RUNS:-bench-runs/gpu_edges}
DEVICE=${DEVICE:-cuda}
EXTRA=${EXTRA:-}
BUDGET_S=${BUDGET_S:-450}
DATA_SEED=${DATA_SEED:-0}  # another random-kernel draw: DATA_SEED=1
export PYTHONPATH=${PYTHONPATH:-}:$(pwd)/src PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$RUNS"
METHODS=${METHODS:-"zssr+estimated-kernel:estimator=edges,preset=kernel$EXTRA;zssr+generic-kernel:preset=kernel$EXTRA"}
lim=${LIMIT:+--limit $LIMIT}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$RUNS/gpu.txt" 2>&1 || true
python3 -c "import torch, platform; print('torch', torch.__version__, 'python', platform.python_version(), 'cuda', torch.cuda.is_available())" >> "$RUNS/gpu.txt" 2>&1
nproc >> "$RUNS/gpu.txt"
git rev-parse HEAD >> "$RUNS/gpu.txt" 2>&1 || true
( python3 -m pytest -q -k cuda tests > "$RUNS/gpu_tests.log" 2>&1; echo "exit $?" >> "$RUNS/gpu_tests.log" ) &
r() { timeout "$BUDGET_S" python3 benchmarks/edgeblur_table2.py run --device "$DEVICE" --data-root .carry/data \
        --methods "$METHODS" --data-seed "$DATA_SEED" $lim "$@"; }
r --set Set14 --out "$RUNS/table2_set14" --jobs 9 > "$RUNS/set14.log" 2>&1 &
r --set .carry/heldout --out "$RUNS/heldout" --jobs 7 > "$RUNS/heldout.log" 2>&1 &
wait
