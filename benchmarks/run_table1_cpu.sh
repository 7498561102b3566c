#!/bin/bash
# Table 1 (issue #27) on the CPU at the presets' own budgets: Set5/Set14 x2/x3/x4, the paper's
# SelfExSR LR files, rows bicubic, `ideal`, `gradual`, `best`. One run at a time;
# every step resumes: a scored image (its JSON under results/table1/cpu/runs) is never redone, so
# the same command after a kill, or in a later session on a fresh checkout, picks up where it stopped.
#
# One torch thread pinned to core 0 by default (THREADS, CORES override; since training moved to NCHW on
# AVX2 CPUs the queue runs THREADS=2 CORES=0,1 with nothing beside it). Every record names its CPU,
# layout and torch threads; table1.py quotes seconds from one machine and thread count per cell.
# Usage (from the repository root): ZSSR_DATA=../shared/data bash benchmarks/run_table1_cpu.sh [STEP...]
# With no STEP the whole queue runs in order; `python benchmarks/table1.py` then writes the summary.
# `best` (the isotropic ladder) was screened as ladder-x2-set5 and ladder-x4-set5 before it had a name;
# table1.py counts those records as `best` (same Config), and best-x2-seeds resumes past seed 0 only
# where its own folder has it: it reruns seed 0 under the new label (a cheap check that it matches).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ZSSR_DATA:-../shared/data}
OUT=benchmarks/results/table1/cpu
bench() {  # bench SET SCALE SEEDS METHOD...
  local set=$1 scale=$2 seeds=$3; shift 3
  local rows=()
  for m in "$@"; do rows+=(--method "$m"); done
  echo "== $(date -u +%FT%TZ) $set x$scale seeds=$seeds $*" >&2
  OMP_NUM_THREADS=${THREADS:-1} taskset -c ${CORES:-0} python -m zssr bench --quiet --device cpu --data-root "$DATA" --dataset "$set" --scale "$scale" \
    --seeds "$seeds" "${rows[@]}" --out "$OUT"
}
SET5=bird,butterfly,baby,head,woman
SET14=baboon,barbara,bridge,coastguard,comic,face,flowers,foreman,lenna,man,monarch,pepper,ppt3,zebra
ladder() {  # ladder OUT SCALE [SET IMAGES]: the isotropic 6-step ladder before it was named `best` (table1_ladder_screen.py)
  local set=${3:-Set5} images=${4:-$SET5}
  echo "== $(date -u +%FT%TZ) $set x$2 isotropic ladder screen" >&2
  OMP_NUM_THREADS=${THREADS:-1} taskset -c ${CORES:-0} python benchmarks/table1_ladder_screen.py \
    "$1" 0 "$images" "$2" "$set"
}
step() {
  case $1 in
    ideal-x2-set5)     bench Set5 2 1 bicubic zssr:preset=ideal ;;
    gradual-x2-set5)   bench Set5 2 1 zssr:preset=gradual ;;
    ideal-x4-set5)     bench Set5 4 1 bicubic zssr:preset=ideal ;;
    ideal-x3-set5)     bench Set5 3 1 bicubic zssr:preset=ideal ;;
    gradual-x4-set5)   bench Set5 4 1 zssr:preset=gradual ;;
    gradual-x3-set5)   bench Set5 3 1 zssr:preset=gradual ;;
    ideal-x2-set14)    bench Set14 2 1 bicubic zssr:preset=ideal ;;
    ideal-x34-set14)   bench Set14 3 1 bicubic zssr:preset=ideal; bench Set14 4 1 bicubic zssr:preset=ideal ;;
    ideal-x2-seeds)    bench Set5 2 3 zssr:preset=ideal; bench Set14 2 3 zssr:preset=ideal ;;
    gradual-x2-set14)  bench Set14 2 1 zssr:preset=gradual ;;
    gradual-x2-seeds)  bench Set5 2 3 zssr:preset=gradual ;;
    ladder-x4-set5)    ladder benchmarks/results/table1/screen_x4_ladder 4 ;;
    ladder-x2-set5)    ladder benchmarks/results/table1/screen_ladder 2 ;;
    best-x3-set5)      bench Set5 3 1 zssr:preset=best ;;
    best-x2-seeds)     bench Set5 2 3 zssr:preset=best ;;
    best-x2-set14)     bench Set14 2 1 zssr:preset=best ;;
    best-x34-set14)    bench Set14 3 1 zssr:preset=best; bench Set14 4 1 zssr:preset=best ;;
    *) echo "unknown step $1" >&2; exit 2 ;;
  esac
}
STEPS=("$@")
if [ ${#STEPS[@]} -eq 0 ]; then
  STEPS=(ideal-x2-set5 gradual-x2-set5 ideal-x4-set5 gradual-x4-set5 ideal-x3-set5 gradual-x3-set5
         ideal-x2-set14 ideal-x34-set14 ideal-x2-seeds gradual-x2-set14 gradual-x2-seeds)
fi
for s in "${STEPS[@]}"; do step "$s"; done
