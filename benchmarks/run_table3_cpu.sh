#!/bin/bash
# Table 3 (issue #17) at a short budget on a CPU: degraded Set14/Set5 ×2, data seeds 0-2, then the
# unseen seed 3, then the clean control; rows bicubic, `ideal`, the authors' `real` (fixed noise,
# degradation=given) and the new `real` (auto: noise, speckle and JPEG read from the image).
# Every ZSSR row at the same budget B (400 iterations at most), not the presets' own counts.
#
# Usage (from benchmarks/): OUT=/tmp/t3 ZSSR_DATA=../../shared/data bash run_table3_cpu.sh
# About 40 minutes on 2 cores. Writes the runs under $OUT and the tables below under results/.
# The committed tables were made in pieces (the rows that do not read the image were run once
# at 99cb4d9, bicubic and the new `real` again at 2c2e473); the commands are in each table.
set -euo pipefail
cd "$(dirname "$0")"
OUT=${OUT:-/tmp/zssr_table3}
DATA=${ZSSR_DATA:-../../shared/data}
export PYTHONPATH=${PYTHONPATH:-../src}
B="max_iterations=400,min_iterations=64,lr_check_every=20,test_every=20,lr_slope_range=100"
ROWS=(--method bicubic --method "zssr:preset=ideal,$B" --method "zssr:preset=real,degradation=given,$B"
      --method "zssr:preset=real,$B")
for ds in 0 1 2; do
  for set in Set14 Set5; do
    python -m zssr bench --quiet --device cpu --data-root "$DATA" --dataset $set --scale 2 --degradation degraded \
      --data-seed $ds "${ROWS[@]}" --jobs 2 --out "$OUT/seeds012"
  done
done
for set in Set14 Set5; do
  python -m zssr bench --quiet --device cpu --data-root "$DATA" --dataset $set --scale 2 --degradation degraded \
    --data-seed 3 "${ROWS[@]}" --jobs 2 --out "$OUT/seed3"
done
for set in Set5 Set14; do
  python -m zssr bench --quiet --device cpu --data-root "$DATA" --dataset $set --scale 2 \
    --method "zssr:preset=ideal,$B" --method "zssr:preset=real,$B" --jobs 2 --out "$OUT/clean"
done
python bench_table.py "$OUT/seeds012" --by kind --out results/table3_speckle_cpu.md --title "Table 3, data seeds 0-2" \
  --command "OUT=$OUT bash run_table3_cpu.sh"
python bench_table.py "$OUT/seed3" --by kind --out results/table3_speckle_cpu_seed3.md --title "Table 3, data seed 3" \
  --command "OUT=$OUT bash run_table3_cpu.sh"
python bench_table.py "$OUT/clean" --out results/table3_speckle_cpu_clean.md --title "Table 3 clean control" \
  --command "OUT=$OUT bash run_table3_cpu.sh"
