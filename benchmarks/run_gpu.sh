#!/usr/bin/env bash
# The GPU session of issue #14, in one call and at most BUDGET_S seconds (default 470):
#   1. the CUDA tests (pytest -k cuda);
#   2. lone-run seconds per image on Set5 x2 `ideal`, before (eager) and after (graph), one process
#      (benchmarks/gpu_speed.py);
#   3. folder throughput: Set14 x2 `ideal`, JOBS processes on the one GPU, wall clock of the whole
#      `zssr bench` command (process start-up included);
#   4. Table 1 (Set5/Set14, x2/x3/x4) with what time is left, most important first: `ideal` with 3
#      seeds, then `gradual` seed 0, then `gradual` seeds 1-2. Resumable: each phase skips what an
#      earlier one finished; benchmarks/bench_table.py makes the table from whatever finished.
# Everything lands in $RUNS (a log per phase); tar it for the trip back.
#
#   RUNS=/tmp/r ZSSR_DATA=.carry/data bash benchmarks/run_gpu.sh
#
# A dry run on the CPU with a tiny budget:
#   DEVICE=cpu EXTRA=",max_iterations=2" SPEED_ARGS="--limit 1 --legs eager,graph --set max_iterations=2" \
#   LIMIT=1 BUDGET_S=300 RUNS=/tmp/r ZSSR_DATA=../shared/data bash benchmarks/run_gpu.sh
set -u
RUNS=${RUNS:-bench-runs/gpu}
EXTRA=${EXTRA:-}
DEVICE=${DEVICE:-cuda}
JOBS=${JOBS:-8}
LIMIT=${LIMIT:-}
BUDGET_S=${BUDGET_S:-470}
SPEED_ARGS=${SPEED_ARGS:-}
export PYTHONPATH=${PYTHONPATH:-}:$(pwd)/src
export PYTHONUNBUFFERED=1
mkdir -p "$RUNS"
T0=$(date +%s)
left() { echo $(( BUDGET_S - ($(date +%s) - T0) )); }
lim=${LIMIT:+--limit $LIMIT}
BENCH=(python3 -m zssr bench --quiet --device "$DEVICE" --data-root "$ZSSR_DATA" $lim)
stamp() { echo "$(( $(date +%s) - T0 )) s: $*" | tee -a "$RUNS/phases.txt"; }

stamp "start $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  python3 -c "import torch, platform; print('torch', torch.__version__, 'python', platform.python_version(), 'cuda', torch.cuda.is_available())" 2>&1
  echo "cpus $(nproc --all)"; } > "$RUNS/gpu.txt"

stamp "1 cuda tests"
timeout 90 python3 -m pytest -q -p no:cacheprovider -k cuda tests > "$RUNS/gpu_tests.log" 2>&1
echo "exit $?" >> "$RUNS/gpu_tests.log"

stamp "2 lone-run speed"
(cd benchmarks && timeout 160 python3 gpu_speed.py --device "$DEVICE" --data-root "$ZSSR_DATA" \
  --out "$RUNS/gpu_speed.md" $SPEED_ARGS) > "$RUNS/gpu_speed.log" 2>&1
echo "exit $?" >> "$RUNS/gpu_speed.log"

stamp "3 throughput"
start=$(date +%s.%N)
timeout 100 "${BENCH[@]}" --dataset Set14 --scale 2 --method "zssr:preset=ideal$EXTRA" --jobs "$JOBS" \
  --out "$RUNS/throughput_set14" > "$RUNS/throughput.log" 2>&1
code=$?
end=$(date +%s.%N)
n=$(ls "$RUNS"/throughput_set14/runs/*/*/*.json 2>/dev/null | wc -l)
python3 -c "w=$end-$start; print(f'exit $code; {$n} images in {w:.1f} s wall with --jobs $JOBS: {$n*60/w:.1f} images per minute')" \
  | tee -a "$RUNS/throughput.log"

stamp "4a table1 ideal, 3 seeds"
t1() { local budget=$(( $(left) - 25 )); [ "$budget" -gt 10 ] || return 0
  timeout "$budget" "${BENCH[@]}" --dataset Set5 --dataset Set14 --scale 2 --scale 3 --scale 4 --jobs "$JOBS" \
    --out "$RUNS/table1" "$@" >> "$RUNS/table1.log" 2>&1
  echo "exit $?" >> "$RUNS/table1.log"; }
t1 --method bicubic --method "zssr:preset=ideal$EXTRA" --seeds 3
stamp "4b table1 gradual, seed 0"
t1 --method "zssr:preset=gradual$EXTRA" --seeds 1
stamp "4c table1 gradual, 3 seeds"
t1 --method "zssr:preset=gradual$EXTRA" --seeds 3
stamp "done"
