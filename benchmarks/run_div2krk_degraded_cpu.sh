#!/bin/bash
# Issue #28 item 4: blur and noise/JPEG together. DIV2KRK's own x2 LR files (blurred by their true
# kernels), with Gaussian noise or a JPEG round trip on top (`zssr bench --degradation given+KIND`,
# data seed 5), the 18 dev ids with ground truth, full size. Rows: bicubic; `real` without a kernel;
# `--preset real --kernel auto` as users get it (edge estimate, do-no-harm check, fallback to `real`
# with the bicubic kernel); `real` with the true kernel. One torch thread pinned to a core (CORES,
# default 1), one run at a time, resumable (results/div2krk_degraded/cpu/runs).
# Usage (repository root): ZSSR_DATA=../shared/data bash benchmarks/run_div2krk_degraded_cpu.sh [KIND ...]
# KIND: gaussian-noise, jpeg-png (default both). Not yet run: about 4 CPU-hours per kind (estimate).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ZSSR_DATA:-../shared/data}
OUT=benchmarks/results/div2krk_degraded/cpu
run() {  # run KIND
  echo "== $(date -u +%FT%TZ) DIV2KRK_dev x2 given+$1" >&2
  OMP_NUM_THREADS=${THREADS:-1} taskset -c ${CORES:-1} python -m zssr bench --quiet --device cpu --data-root "$DATA" \
    --dataset DIV2KRK_dev --degradation "given+$1" --data-seed 5 --scale 2 \
    --method bicubic --method "zssr:preset=real" \
    --method "zssr+estimated-kernel:estimator=edges,check=true,preset=real" \
    --method "zssr+true-kernel:preset=real" --out "$OUT"
}
KINDS=("$@")
[ ${#KINDS[@]} -eq 0 ] && KINDS=(gaussian-noise jpeg-png)
for k in "${KINDS[@]}"; do run "$k"; done
