"""Shared fixtures: the shared data folder and device selection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch


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
