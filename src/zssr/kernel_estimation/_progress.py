"""A terminal progress bar for KernelGAN, kept out of the estimator so that it never draws one itself."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["TqdmKernelProgress"]


class TqdmKernelProgress:
    """A tqdm bar for one KernelGAN seed: a ``KernelGANProgress`` factory (closed by the estimator).

    Pass ``functools.partial(TqdmKernelProgress, leave=False)`` as ``estimate_kernel``'s
    ``progress``; keywords go to ``tqdm`` (the bar is on stderr by default).
    """

    def __init__(self, seed: int, iterations: int, **tqdm_kwargs: Any) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=iterations, desc=f"KernelGAN seed {seed}", unit="it", **tqdm_kwargs)

    def __call__(self, done: int, kernel: torch.Tensor) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
