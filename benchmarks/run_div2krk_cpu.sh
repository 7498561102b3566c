#!/bin/bash
# Issue #28 item 1b: blind SR on DIV2KRK itself, end to end, at the `kernel` preset's own budget, on the
# CPU. The 18 dev ids with ground truth (DIV2KRK_dev/gt), full-size LR images, ×2 then ×4. Rows:
# bicubic interpolation; bicubic-kernel ZSSR; `--kernel auto` as users get it (edges + do-no-harm check);
# KernelGAN + ZSSR with and without the check; true-kernel ZSSR. Every ZSSR row with preset=kernel.
# One torch thread pinned to one core (THREADS, CORES override), one run at a time; every scored image
# resumes (its JSON under results/div2krk/cpu/runs), so the same command picks up after a kill or in a
# later session. About 5 CPU-hours at ×2 on a 2.8 GHz Xeon without bfloat16 (estimate, not measured).
# Usage (from the repository root): ZSSR_DATA=../shared/data bash benchmarks/run_div2krk_cpu.sh [x2|x4 ...]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ZSSR_DATA:-../shared/data}
OUT=benchmarks/results/div2krk/cpu
run() {  # run SCALE
  echo "== $(date -u +%FT%TZ) DIV2KRK_dev x$1" >&2
  OMP_NUM_THREADS=${THREADS:-1} taskset -c ${CORES:-0} python -m zssr bench --quiet --device cpu --data-root "$DATA" \
    --dataset DIV2KRK_dev --degradation given --scale "$1" \
    --method bicubic --method "zssr:preset=kernel" \
    --method "zssr+estimated-kernel:estimator=edges,check=true,preset=kernel" \
    --method "zssr+estimated-kernel:estimator=kernelgan,check=false,preset=kernel" \
    --method "zssr+estimated-kernel:estimator=kernelgan,check=true,preset=kernel" \
    --method "zssr+true-kernel:preset=kernel" --out "$OUT"
}
STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(x2 x4)
for s in "${STEPS[@]}"; do run "${s#x}"; done
