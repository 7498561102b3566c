#!/bin/bash
# Issue #28 item 1b: blind SR on DIV2KRK itself, end to end, at the `kernel` preset's own budget, on the
# CPU. The 18 dev ids with ground truth (DIV2KRK_dev/gt), full-size LR images (1020×~680 at ×2), ×2 then ×4.
# Rows: bicubic interpolation; bicubic-kernel ZSSR; `--kernel auto` as users get it (edges + do-no-harm
# check); KernelGAN + ZSSR with and without the check; true-kernel ZSSR. Every ZSSR row with preset=kernel.
# Order: `zssr bench` runs method by method, so one command over all rows would give no image all of its
# rows for many hours. Steps therefore go image by image: `xS-core` (bicubic, bicubic-kernel, auto, true:
# what the share of the gap and the harm check need) one image at a time, then `xS-kernelgan` (the two
# KernelGAN rows) image by image. A step cut off leaves every image it scored complete for its rows.
# One run at a time (THREADS torch threads pinned to CORES; defaults 1 and 0); every scored image resumes
# (its JSON under results/div2krk/cpu/runs), so the same command picks up after a kill or in a later session.
# Cost, measured (x2-core, session of 2026-12-08, AMD EPYC 2 cores): 24-33 min per image at THREADS=2 CORES=0,1
# (im_2, im_3; each ZSSR row 7-10 min, the LR policy stopping at 1,440-2,040 of 3,000 iterations), ~37 min at
# one thread (im_30), so ~8-10 h for the 18 images at x2.
# Usage (repository root): ZSSR_DATA=../shared/data bash benchmarks/run_div2krk_cpu.sh [STEP ...]
# Steps: x2-core x2-kernelgan x4-core x4-kernelgan (default: all four in that order); x2 and x4 = core then kernelgan.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ZSSR_DATA:-../shared/data}
OUT=benchmarks/results/div2krk/cpu
# The ids with ground truth, smallest first (im_30's LR is 1020×408) so early sessions score more images.
IMAGES=(im_30 im_2 im_3 im_6 im_13 im_14 im_23 im_24 im_27 im_31 im_33 im_38 im_39 im_42 im_43 im_44 im_46 im_50)
CORE=(--method bicubic --method "zssr:preset=kernel"
      --method "zssr+estimated-kernel:estimator=edges,check=true,preset=kernel"
      --method "zssr+true-kernel:preset=kernel")
KERNELGAN=(--method "zssr+estimated-kernel:estimator=kernelgan,check=false,preset=kernel"
           --method "zssr+estimated-kernel:estimator=kernelgan,check=true,preset=kernel")
run() {  # run SCALE IMAGE METHOD-ARGS...
  local scale=$1 image=$2; shift 2
  echo "== $(date -u +%FT%TZ) DIV2KRK_dev x$scale $image" >&2
  OMP_NUM_THREADS=${THREADS:-1} taskset -c ${CORES:-0} python -m zssr bench --quiet --device cpu --data-root "$DATA" \
    --dataset DIV2KRK_dev --degradation given --scale "$scale" --images "$image" "$@" --out "$OUT"
}
step() {
  local scale=${1%%-*} rows=${1#*-}
  scale=${scale#x}
  case $rows in
    core) for i in "${IMAGES[@]}"; do run "$scale" "$i" "${CORE[@]}"; done ;;
    kernelgan) for i in "${IMAGES[@]}"; do run "$scale" "$i" "${KERNELGAN[@]}"; done ;;
    *) echo "unknown step $1 (x2-core, x2-kernelgan, x4-core, x4-kernelgan, x2, x4)" >&2; exit 2 ;;
  esac
}
STEPS=()
for s in "$@"; do
  case $s in x2|x4) STEPS+=("$s-core" "$s-kernelgan") ;; *) STEPS+=("$s") ;; esac
done
[ ${#STEPS[@]} -eq 0 ] && STEPS=(x2-core x2-kernelgan x4-core x4-kernelgan)
for s in "${STEPS[@]}"; do step "$s"; done
