#!/bin/bash
# Screening candidates for the `best` preset (issue #27) on Table 1 cells, each change alone, at the
# presets' own budgets. Same protocol and resuming as run_table1_cpu.sh, in its own run folder
# (results/table1/screen) so that it may run beside the queue on the other core: PSNR/SSIM do not
# depend on the load, but seconds measured beside another run are not comparable (table1.py pairs
# times only within one machine and thread count; the screening README says which ran beside what).
#
# Usage (repository root): ZSSR_DATA=../shared/data bash benchmarks/run_table1_screen.sh STEP...
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ZSSR_DATA:-../shared/data}
OUT=benchmarks/results/table1/screen
bench() {  # bench SET SCALE SEEDS METHOD...
  local set=$1 scale=$2 seeds=$3; shift 3
  local rows=()
  for m in "$@"; do rows+=(--method "$m"); done
  echo "== $(date -u +%FT%TZ) $set x$scale seeds=$seeds $*" >&2
  OMP_NUM_THREADS=${THREADS:-1} taskset -c ${CORES:-1} nice -n ${NICE:-19} python -m zssr bench --quiet --device cpu \
    --data-root "$DATA" --dataset "$set" --scale "$scale" --seeds "$seeds" "${rows[@]}" --out "$OUT"
}
for s in "$@"; do
  case $s in
    nets2-x2-set5)   bench Set5 2 1 zssr:preset=ideal,nets=2 ;;
    nets2-x2-set5-s1) bench Set5 2 2 zssr:preset=ideal,nets=2 ;;
    *) echo "unknown step $s" >&2; exit 2 ;;
  esac
done
