"""Seconds per training iteration, side by side: zssr (float32 and bfloat16), the code before, a bare loop, TensorFlow.

Every leg trains the 8×64 ZSSR net on one 128×128 input (the centre of scikit-image's
``astronaut`` at half size), crop 128, ×2, with N torch/TF threads, in a fresh process;
legs alternate round by round (A B C … A B C …) so machine drift hits all alike, and
the table gives the median over rounds of each leg's seconds per iteration:

* ``zssr`` — ``train_scale_step`` as the pipeline runs it (father sampling, son,
  interpolation, Adam step, learning-rate policy, reconstruction test every 50);
  in ``float32`` and ``bfloat16`` (``Config.precision``), with the share of each
  iteration spent making the example (timed in the same process);
* ``before`` — the same step from ``--baseline-src`` (the code before this change);
* ``bare`` — the same net and Adam on fixed tensors (no example making, no policy);
* ``tensorflow`` — the authors' network step: their graph rebuilt with TF's v1 API
  (placeholders, eight ``conv2d`` 'SAME' layers with ReLU, residual, L1, ``AdamOptimizer``,
  one ``session.run`` per iteration fetching the train op, loss and output, as their
  ``forward_backward_pass`` does). The authors' whole iteration adds their numpy example
  making to this, so it is a lower bound of their iteration. Needs ``--tf-python``: a
  Python with ``tensorflow-cpu`` (kept out of zssr's dependencies).

Usage: python benchmarks/training_speed.py --baseline-src /tmp/before/src --tf-python /tmp/tfvenv/bin/python [--rounds 5]
Writes benchmarks/results/training_speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from machine import result_header, write_result

SRC = Path(__file__).resolve().parents[1] / "src"
WARMUP, TIMED = 10, 50

INPUT = r"""
import numpy as np
from skimage import data
photo = data.astronaut().astype(np.float32)[::2, ::2] / 255.0
image = np.ascontiguousarray(photo[64:192, 64:192])  # 128×128×3
"""

ZSSR_LEG = INPUT + r"""
import json, sys, time
import torch
torch.set_num_threads(int(sys.argv[1]))
from zssr.config import resolve_config
from zssr.examples import FatherSampler, FatherSource, make_son
from zssr.network import ZSSRNet
from zssr.resize import imresize
from zssr.training import make_optimizer, train_scale_step
mode, warmup, timed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
extra = {} if mode == "before" else {"precision": mode}
x = torch.from_numpy(image).permute(2, 0, 1)[None].contiguous()
kwargs = {"generator": torch.Generator().manual_seed(0)}
if extra:
    kwargs["precision"] = extra["precision"]
net = ZSSRNet(3, **kwargs)
def run(iterations):
    config = resolve_config("ideal", max_iterations=iterations, **extra)
    opt = make_optimizer(net, config)
    t0 = time.perf_counter()
    h = train_scale_step(net, opt, x, [FatherSource(x, 1.0)], (2.0, 2.0), config=config, kernel=None,
                         rng=np.random.default_rng(0), generator=torch.Generator().manual_seed(1))
    return (time.perf_counter() - t0) / h.iterations
run(warmup)
per_iteration = run(timed)
config = resolve_config("ideal")
sampler = FatherSampler(config, (128, 128), np.random.default_rng(0))
t0 = time.perf_counter()
for _ in range(timed):
    father = sampler.sample([FatherSource(x, 1.0)])
    son = make_son(father, (2.0, 2.0))
    imresize(son, (2.0, 2.0), size=tuple(father.shape[-2:]))
examples = (time.perf_counter() - t0) / timed
print(json.dumps({"s": per_iteration, "examples": examples}))
"""

BARE_LEG = INPUT + r"""
import json, sys, time
import torch
torch.set_num_threads(int(sys.argv[1]))
from zssr.network import ZSSRNet
precision, warmup, timed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
g = torch.Generator().manual_seed(0)
net = ZSSRNet(3, generator=g, precision=precision)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
pairs = [(torch.rand(1, 3, 128, 128, generator=g), torch.rand(1, 3, 128, 128, generator=g)) for _ in range(4)]
def run(n):
    t0 = time.perf_counter()
    for i in range(n):
        a, b = pairs[i % 4]
        loss = torch.mean(torch.abs(net(a) - b))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / n
run(warmup)
print(json.dumps({"s": run(timed)}))
"""

TF_LEG = INPUT + r"""
import json, os, sys, time
threads, warmup, timed = int(sys.argv[1]), int(sys.argv[3]), int(sys.argv[4])
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
graph = tf.Graph()
with graph.as_default():
    lr_t = tf.placeholder(tf.float32, name="learning_rate")
    son_t = tf.placeholder(tf.float32, name="lr_son")
    father_t = tf.placeholder(tf.float32, name="hr_father")
    shapes = [[3, 3, 3, 64]] + [[3, 3, 64, 64]] * 6 + [[3, 3, 64, 3]]
    weights = [tf.get_variable("w%d" % i, shape=s, initializer=tf.random_normal_initializer(stddev=(0.1 / (9 * s[2])) ** 0.5))
               for i, s in enumerate(shapes)]
    y = son_t
    for i, w in enumerate(weights):
        y = tf.nn.conv2d(y, w, [1, 1, 1, 1], "SAME")
        if i < len(weights) - 1:
            y = tf.nn.relu(y)
    out_t = y + son_t
    loss_t = tf.reduce_mean(tf.reshape(tf.abs(out_t - father_t), [-1]))
    train_op = tf.train.AdamOptimizer(learning_rate=lr_t).minimize(loss_t)
    init = tf.global_variables_initializer()
config = tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
sess = tf.Session(graph=graph, config=config)
sess.run(init)
rng = np.random.default_rng(0)
pairs = [(rng.random((1, 128, 128, 3), dtype=np.float32), rng.random((1, 128, 128, 3), dtype=np.float32)) for _ in range(4)]
def run(n):
    t0 = time.perf_counter()
    for i in range(n):
        a, b = pairs[i % 4]
        sess.run([train_op, loss_t, out_t], {lr_t: 1e-3, son_t: a, father_t: b})
    return (time.perf_counter() - t0) / n
run(warmup)
print(json.dumps({"s": run(timed), "tensorflow": tf.__version__}))
"""


def _leg(python: str, code: str, src: Path | None, threads: int, mode: str) -> dict[str, float | str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if src is not None:
        env["PYTHONPATH"] = str(src)
    proc = subprocess.run([python, "-c", code, str(threads), mode, str(WARMUP), str(TIMED)], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"leg {mode!r} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
    return ", ".join(f for f in wanted if f in flags) or "none of " + ", ".join(wanted)


def main() -> None:
    """Run the legs round by round and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", type=Path, default=None, help="src/ of the code before (git archive)")
    parser.add_argument("--tf-python", default=None, help="a Python with tensorflow-cpu for the authors' step")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default=None, help="run only the legs whose name contains one of these "
                        "comma-separated words (e.g. 'bfloat16,TensorFlow')")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "training_speed.md")
    args = parser.parse_args()
    legs: dict[str, tuple[str, str, Path | None, str]] = {
        "zssr, float32": (sys.executable, ZSSR_LEG, SRC, "float32"),
        "zssr, bfloat16": (sys.executable, ZSSR_LEG, SRC, "bfloat16"),
        "bare loop, float32": (sys.executable, BARE_LEG, SRC, "float32"),
        "bare loop, bfloat16": (sys.executable, BARE_LEG, SRC, "bfloat16"),
    }
    if args.baseline_src is not None:
        legs["zssr before (float32)"] = (sys.executable, ZSSR_LEG, args.baseline_src, "before")
    if args.tf_python is not None:
        legs["TensorFlow, the authors' network step (float32)"] = (args.tf_python, TF_LEG, None, "float32")
    if args.only is not None:
        words = [w.strip() for w in args.only.split(",") if w.strip()]
        legs = {name: leg for name, leg in legs.items() if any(w in name for w in words)}
    results: dict[str, list[dict[str, float | str]]] = {name: [] for name in legs}
    for r in range(args.rounds):
        for name, (python, code, src, mode) in legs.items():
            results[name].append(_leg(python, code, src, args.threads, mode))
            print(f"round {r + 1}: {name}: {results[name][-1]}", file=sys.stderr, flush=True)
    median = {name: statistics.median(float(x["s"]) for x in runs) for name, runs in results.items()}
    tf_name = "TensorFlow, the authors' network step (float32)"
    lines = [
        *result_header("Seconds per training iteration, side by side (128×128 input, ×2, crop 128)"),
        f"CPU flags: {_cpu_flags()}. {args.threads} threads per leg; each leg a fresh process, {WARMUP} warm-up "
        f"then {TIMED} timed iterations; legs alternate over {args.rounds} rounds; median over rounds.",
        "",
        "| leg | s / iteration (median) | range over rounds | example making, s / iteration |",
        "|---|---:|---|---:|",
    ]
    for name, runs in results.items():
        values = [float(x["s"]) for x in runs]
        ex = [float(x["examples"]) for x in runs if "examples" in x]
        lines.append(f"| {name} | {median[name]:.4f} | {min(values):.4f}–{max(values):.4f} | "
                     f"{statistics.median(ex):.4f} |" if ex else
                     f"| {name} | {median[name]:.4f} | {min(values):.4f}–{max(values):.4f} | – |")
    lines.append("")
    if tf_name in median:
        version = results[tf_name][0].get("tensorflow", "?")
        lines += [
            f"TensorFlow {version} (tensorflow-cpu, its default oneDNN build). Ratios to its network step "
            "(below 1: faster than the authors' step before their example making is even counted):",
            "",
        ]
        for name in median:
            if name != tf_name:
                lines.append(f"- {name}: **{median[name] / median[tf_name]:.2f}×**")
        lines.append("")
    if {"zssr before (float32)", "zssr, float32", "zssr, bfloat16"} <= set(median):
        lines.append(f"zssr float32 vs before: {median['zssr, float32'] / median['zssr before (float32)']:.2f}×; "
                     f"bfloat16 vs before: {median['zssr, bfloat16'] / median['zssr before (float32)']:.2f}×.")
        lines.append("")
    lines += [
        "The authors' whole iteration (network step + their numpy example making) was measured by the issue "
        "(#13) at 0.114–0.116 s on an Intel Xeon with AVX-512 and AMX, 2 threads (TF step alone 0.090–0.097 s).",
    ]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
