#!/bin/bash
# Table 3 at the presets' own budgets on the CPU (issue #28 item 5): Set5 and Set14 x2, the paper's
# SelfExSR LR files, one degradation kind forced on every image of a column, data seed 5 (seeds 0-3
# were looked at while building `real`; 4 was the JPEG screen's), run seed 0. Rows: bicubic and
# `real` as users get it (it reads each image's noise, speckle and JPEG quality). One run at a
# time, THREADS torch threads (default 1) pinned to CORES (default 1: room for another queue on core 0;
# THREADS=2 CORES=0,1 when it runs alone); records name their threads, the table prints them;
# every step resumes (a scored image under results/table3_full/cpu/runs is never redone). `real`'s records from
# before it kept the 8-way ensemble for bicubic sons (commit 62fb050) are history in results/table3_full/before_ensemble.
# The clean control needs a run only where a clean LR reads as degraded: `real` on an image read as
# clean is `ideal`'s config exactly (zssr.degradation.plan_sons), so `python benchmarks/table3_full.py`
# checks the reading of every clean LR and takes `ideal`'s Table 1 records; Set14 baboon reads
# noise σ 1.3-1.7/255 (over CLEAN_SIGMA on two channels) and is run (step clean-set14).
# Usage (repository root): ZSSR_DATA=../shared/data bash benchmarks/run_table3_full_cpu.sh [STEP...]
# Steps: jpeg-png-set5 jpeg-file-set5 gaussian-set5 speckle-set5, the same for set14, clean-set14.
# About 20 CPU-minutes per Set5 image-row at ~3000 iterations here (0.2 s each): ~13 CPU-hours in all.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ZSSR_DATA:-../shared/data}
OUT=benchmarks/results/table3_full/cpu
bench() {  # bench SET KIND
  echo "== $(date -u +%FT%TZ) $1 x2 $2 data seed 5" >&2
  OMP_NUM_THREADS=${THREADS:-1} taskset -c ${CORES:-1} python -m zssr bench --quiet --device cpu --data-root "$DATA" \
    --dataset "$1" --scale 2 --degradation "$2" --data-seed 5 --method bicubic --method zssr:preset=real --out "$OUT"
}
clean() {  # clean SET IMAGES: `real` on clean LR files that read as degraded
  echo "== $(date -u +%FT%TZ) $1 x2 clean $2" >&2
  OMP_NUM_THREADS=${THREADS:-1} taskset -c ${CORES:-1} python -m zssr bench --quiet --device cpu --data-root "$DATA" \
    --dataset "$1" --scale 2 --method zssr:preset=real --images "$2" --out "$OUT"
}
step() {
  case $1 in
    jpeg-png-set5) bench Set5 jpeg-png ;;       jpeg-png-set14) bench Set14 jpeg-png ;;
    jpeg-file-set5) bench Set5 jpeg-file ;;     jpeg-file-set14) bench Set14 jpeg-file ;;
    gaussian-set5) bench Set5 gaussian-noise ;; gaussian-set14) bench Set14 gaussian-noise ;;
    speckle-set5) bench Set5 speckle-noise ;;   speckle-set14) bench Set14 speckle-noise ;;
    clean-set14) clean Set14 baboon ;;
    *) echo "unknown step $1" >&2; exit 2 ;;
  esac
}
STEPS=("$@")
if [ ${#STEPS[@]} -eq 0 ]; then
  STEPS=(jpeg-png-set5 jpeg-file-set5 gaussian-set5 speckle-set5 jpeg-png-set14 jpeg-file-set14 gaussian-set14 speckle-set14 clean-set14)
fi
for s in "${STEPS[@]}"; do step "$s"; done
