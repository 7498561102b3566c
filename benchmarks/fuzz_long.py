"""Run the fuzz tests under a Hypothesis profile and write what they tried and found (issue #16, item 4).

Runs ``python -m pytest --hypothesis-profile=PROFILE --hypothesis-seed=SEED tests/test_fuzz_*.py``
from the repository root (``PYTHONPATH=src``), reads Hypothesis's statistics and pytest's
outcomes, and writes per property: the examples run (passing + failing), the ones discarded
as invalid, the time spent generating, and the outcome; then each failure's message and the
notes file given (what each failure was, and the commit that fixed it or the known cause).

    cd benchmarks && python fuzz_long.py                 # long profile, seed 16, results/fuzz_long.md
    python fuzz_long.py --profile ci --out /tmp/ci.md    # the CI budget, for timing it

The seed makes the long run reproducible on the same code (the ``ci`` profile is derandomized).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from machine import result_header, write_result

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^(tests/test_fuzz_\w+\.py::\w+):\s*$")
COUNTS = re.compile(r"- (\d+) passing, (\d+) failing, and (\d+) invalid test cases")
PHASE = re.compile(r"- during (\w+) phase \(([\d.]+) seconds\)")
OUTCOME = re.compile(r"^(PASSED|FAILED|XFAIL|XPASS|ERROR)\s+(tests/test_fuzz_\w+\.py::\w+)")
SUMMARY = re.compile(r"^=+ (.* in [\d.]+s.*) =+$")


def parse(text: str) -> tuple[dict[str, dict[str, float]], dict[str, str], str]:
    """Per test: counts and seconds per phase; per test: its outcome; the pytest summary line."""
    stats: dict[str, dict[str, float]] = {}
    current = None
    phase = ""
    for line in text.splitlines():
        if (m := BLOCK.match(line.strip())) is not None:
            current, phase = m.group(1), ""
            stats.setdefault(current, {"passing": 0, "failing": 0, "invalid": 0, "seconds": 0.0})
        elif current is not None and (m := PHASE.search(line)) is not None:
            phase = m.group(1)
            stats[current]["seconds"] += float(m.group(2))
        elif current is not None and (m := COUNTS.search(line)) is not None:
            for key, value in zip(("passing", "failing", "invalid"), m.groups()):
                stats[current][key] += int(value)
            if phase == "shrink":
                stats[current]["shrinks"] = stats[current].get("shrinks", 0) + int(m.group(1)) + int(m.group(2))
    outcomes = {}
    for line in text.splitlines():
        if (m := OUTCOME.match(line)) is not None:
            outcomes[m.group(2)] = m.group(1)
    summary = next((m.group(1) for line in text.splitlines() if (m := SUMMARY.match(line))), "")
    return stats, outcomes, summary


def failures(text: str) -> list[str]:
    """The first assertion line of each failure (what was refused, crashed or hung)."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("E") and "AssertionError:" in line:
            message = line.split("AssertionError:", 1)[1].strip()
            if message and message not in found:
                found.append(message[:300])
    return found


def main() -> int:
    """Run the fuzz tests and write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="long", help="Hypothesis profile of tests/conftest.py (default long)")
    parser.add_argument("--seed", type=int, default=16, help="--hypothesis-seed (default 16)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fuzz_long.md")
    parser.add_argument("--log", type=Path, default=None, help="also keep pytest's full output here")
    parser.add_argument("--notes", type=Path, default=None, help="a Markdown file appended as 'Findings'")
    parser.add_argument("-k", dest="keyword", default=None, help="pytest -k expression (default: every fuzz test)")
    args = parser.parse_args()

    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "--hypothesis-show-statistics",
               f"--hypothesis-profile={args.profile}", f"--hypothesis-seed={args.seed}",
               *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_fuzz_*.py"))]
    if args.keyword:
        command += ["-k", args.keyword]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    text = done.stdout + done.stderr
    if args.log is not None:
        args.log.write_text(text, encoding="utf-8")
    stats, outcomes, summary = parse(text)

    lines = result_header(f"Fuzz run: Hypothesis profile '{args.profile}', seed {args.seed}")
    lines += [
        f"pytest: `{shlex.join([Path(command[0]).name, *command[1:]])}` (from the repository "
        "root, `PYTHONPATH=src`)",
        "",
        f"Wall time {seconds / 60:.1f} min; pytest: {summary or 'no summary (see the log)'}; exit status {done.returncode}.",
        "",
        "Examples run = passing + failing test cases (each one a full run of the command or call, every check made); "
        "invalid = drawn and discarded by a strategy filter before running. Tests named `cause_N` are the "
        "regression tests of the seven causes of issue #16 (each failed before its fix).",
        "",
        "| property (test) | examples run | failing | invalid | seconds | outcome |",
        "|---|---:|---:|---:|---:|---|",
    ]
    total = 0
    for name, s in stats.items():
        run = int(s["passing"] + s["failing"])
        total += run
        short = name.split("::", 1)[1]
        lines.append(f"| `{short}` | {run} | {int(s['failing'])} | {int(s['invalid'])} | {s['seconds']:.0f} | "
                     f"{outcomes.get(name, '?')} |")
    lines += ["", f"Examples run in all: {total}.", "", "## Failures reported by this run", ""]
    found = failures(text)
    lines += [f"- {f}" for f in found] if found else ["None."]
    if args.notes is not None:
        lines += ["", "## Findings", "", args.notes.read_text(encoding="utf-8").strip()]
    write_result(args.out, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
