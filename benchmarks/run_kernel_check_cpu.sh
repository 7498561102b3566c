#!/bin/bash
# Issue #19: `--kernel auto` over several DIV2KRK-style kernel draws on a CPU (Set14 ×2, data seeds
# 1 and 2 looked at while choosing OVERSHARP_SIGMA, 0 after, 5 unseen until the report), every ZSSR
# row at the same budget B; then kernel_check.py adds the rows with the do-no-harm check.
# The estimated-kernel rows (edges, KernelGAN) run with check=false: each checked row is computed
# from it and the bicubic-kernel row.
#
# Usage (from benchmarks/): OUT=/tmp/kc ZSSR_DATA=../../shared/data bash run_kernel_check_cpu.sh
# About 25 minutes per ×2 data seed and 10 per ×4 one on 2 idle cores (KernelGAN: ~50 s per image).
# (The committed runs were made in two passes, the KernelGAN rows later, with the same inputs, rows
# and budget; the first pass before the check option existed.)
set -euo pipefail
cd "$(dirname "$0")"
OUT=${OUT:-/tmp/zssr_kernel_check}
DATA=${ZSSR_DATA:-../../shared/data}
export PYTHONPATH=${PYTHONPATH:-../src}
B="max_iterations=400,min_iterations=64,lr_check_every=20,test_every=20,lr_slope_range=100"
for ds in 1 2 0 5; do
  python -m zssr bench --quiet --device cpu --data-root "$DATA" --dataset Set14 --scale 2 --degradation gaussian-kernel \
    --data-seed $ds --method bicubic --method "zssr:preset=ideal,$B" \
    --method "zssr+estimated-kernel:estimator=edges,check=false,preset=kernel,$B" \
    --method "zssr+estimated-kernel:estimator=kernelgan,check=false,preset=kernel,$B" \
    --method "zssr+true-kernel:preset=kernel,$B" --jobs 2 --out "$OUT"
done
python kernel_check.py "$OUT" --seeds 1,2,0 --unseen 5 --out results/kernel_check.md
# ×4: the images whose ×4 LR is at least 84 px (the estimators' minimum), same rows and budget; on
# the other four the estimated-kernel rows get bicubic-kernel ZSSR (no estimate), which would only dilute them.
X4_IMAGES=baboon,barbara,bridge,flowers,lenna,man,monarch,pepper,ppt3,zebra
for ds in 1 2 0 5; do
  python -m zssr bench --quiet --device cpu --data-root "$DATA" --dataset Set14 --scale 4 --degradation gaussian-kernel \
    --data-seed $ds --method bicubic --method "zssr:preset=ideal,$B" \
    --method "zssr+estimated-kernel:estimator=edges,check=false,preset=kernel,$B" \
    --method "zssr+estimated-kernel:estimator=kernelgan,check=false,preset=kernel,$B" \
    --method "zssr+true-kernel:preset=kernel,$B" --images "$X4_IMAGES" --jobs 2 --out "$OUT/x4"
done
python kernel_check.py "$OUT/x4" --seeds 1,2,0 --unseen 5 --out results/kernel_check_x4.md
