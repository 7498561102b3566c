"""Shared fixtures: the shared data folder and device selection; the Hypothesis profiles of the fuzz tests."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
import torch
from hypothesis import Phase, settings

# A shell's background job (`pytest ... &`) starts with SIGINT ignored, and every child inherits that,
# so the Ctrl-C tests (test_batch, test_cli_checks, test_limits) would fail on how the suite was
# started; give the run the disposition a foreground one has (Python's KeyboardInterrupt handler,
# which children get back as the default action at exec).
if os.name == "posix" and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Profiles of the property-based fuzz tests (tests/test_fuzz_*.py, docs/FUZZING.md). Each test
# asks for a fraction of max_examples, so one number sizes a whole run.
#  * ci (the default): deterministic (derandomize: the same examples every run, no database),
#    within the CI budget on 2 cores (docs/FUZZING.md). No shrinking (it can take minutes).
#  * dev: the same examples as ci, and a failure is shrunk to a minimal one (to debug ci).
#  * long: `python -m pytest --hypothesis-profile=long tests/test_fuzz_*.py`: fresh random
#    examples, 15× the ci run (hundreds to thousands per property; benchmarks/results/fuzz_long.md),
#    with shrinking and a looser deadline (it shares the machine).
# The deadline bounds every example's time (a hang is also stopped by the harness's hard timeout).
_NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)
settings.register_profile("ci", max_examples=100, derandomize=True, database=None, deadline=timedelta(seconds=10),
                          print_blob=True, phases=_NO_SHRINK)
settings.register_profile("dev", settings.get_profile("ci"), phases=tuple(Phase))
settings.register_profile("long", max_examples=1500, derandomize=False, database=None,
                          deadline=timedelta(seconds=20), print_blob=True)
settings.load_profile("ci")


def _data_root() -> Path:
    return Path(os.environ.get("ZSSR_DATA", "../shared/data")).expanduser()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the shared Set5/Set14 data; skips the test where it is absent."""
    root = _data_root()
    if not (root / "Set5").is_dir():
        pytest.skip(f"shared data not found at {root} (set ZSSR_DATA to the folder holding Set5/ and Set14/)")
    return root


@pytest.fixture(scope="session")
def cuda_device() -> torch.device:
    """A CUDA device; skips the test on machines without one."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device (none available)")
    return torch.device("cuda")


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
