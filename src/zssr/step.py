"""The training step on the training device: fathers, sons and the update with no host in the loop (#14).

The authors' loop (and our ``eager`` engine) makes each example on the host's
schedule: crop offsets are sliced with Python integers, MATLAB resize weights are
uploaded per call, son noise is drawn on the CPU. On a GPU each of those waits for
the device, so a step that needs well under a millisecond of arithmetic takes
~10 ms. The ``device`` engine instead

- draws the geometry of a whole block of fathers (every iteration up to the next
  reconstruction test) on the host, with the same random stream, and uploads it once;
- renders each father on the device as one bicubic warp (exact crops, quarter turns
  and mirrors are affine maps too, sampled at whole pixels);
- makes sons with MATLAB imresize as two fixed matrix products per axis pair
  (:class:`MatrixResize`, the same weights as :func:`zssr.resize.imresize`) and noise
  drawn on the device;
- and, on CUDA (``graph``), captures son, forward, backward and Adam as one CUDA graph
  after a few warm-up steps (:class:`StepRunner`); if capture fails the same step
  runs uncaptured, so the engine never fails where ``eager`` works.

Values differ from ``eager`` by float rounding (warps at whole pixels, matrix sums)
and by the noise draws; the random geometry is the same.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .config import ENGINES
from .examples import FatherDraw, FatherSource, add_son_noise, degrade, jpeg_roundtrip
from .resize import INTERP_KERNELS, output_size, resize_weights

__all__ = [
    "CAPTURE_WARMUP", "FatherRenderer", "MatrixResize", "SonMaker", "StepRunner", "cuda_graph_capture", "resize_matrix",
    "block_end", "resolve_engine", "set_learning_rate", "side_stream",
]

#: Uncaptured steps before a CUDA graph is captured: lazy initialisation (cuDNN
#: handles, Adam's moments) must happen outside the capture (PyTorch's CUDA-graph notes use 3).
CAPTURE_WARMUP = 3


def resolve_engine(engine: str, device: torch.device | str) -> str:
    """``Config.training_engine`` for ``device``: ``auto`` is ``graph`` on CUDA and ``eager`` elsewhere.

    ``graph`` off CUDA is ``device`` (there is nothing to capture on a CPU). ``eager``
    stays the CPU default: it is the path every committed CPU result was made with.
    """
    if engine not in ENGINES:
        raise ValueError(f"training_engine must be one of {ENGINES}, got {engine!r}")
    cuda = torch.device(device).type == "cuda"
    if engine == "auto":
        return "graph" if cuda else "eager"
    if engine == "graph" and not cuda:
        return "device"
    return engine


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every group's rate; a tensor rate (a captured Adam) is filled in place so the graph sees it."""
    for group in optimizer.param_groups:
        current = group["lr"]
        if torch.is_tensor(current):
            current.fill_(lr)
        else:
            group["lr"] = lr


def resize_matrix(in_len: int, out_len: int, scale: float) -> np.ndarray:
    """MATLAB bicubic imresize of one axis (antialiased, symmetric border) as an ``out_len × in_len`` matrix."""
    idx, weights = resize_weights(in_len, out_len, scale, INTERP_KERNELS["cubic"], True, "symmetric")
    matrix = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.repeat(np.arange(out_len), idx.shape[1])
    np.add.at(matrix, (rows, idx.ravel()), weights.ravel())
    return matrix


class MatrixResize:
    """One fixed :func:`~zssr.resize.imresize` (``in_size`` → by ``scale``/``size``) as matrix products.

    Why: the son of a fixed-size father has fixed sizes, so the MATLAB weights are
    built once; applying them is two small matmuls with no host work (capturable).
    Axes go in MATLAB's order (most shrunk first); an identity axis is skipped.
    """

    def __init__(self, in_size: tuple[int, int], scale: float | Sequence[float] | None, size: Sequence[int] | None,
                 device: torch.device | str) -> None:
        sc, out = output_size(in_size, scale, size)
        self.out_size = out
        self._passes: list[tuple[int, torch.Tensor]] = []
        for axis in sorted((0, 1), key=lambda a: sc[a]):
            if sc[axis] == 1.0 and out[axis] == in_size[axis]:
                continue
            m = torch.as_tensor(resize_matrix(in_size[axis], out[axis], sc[axis]), dtype=torch.float32, device=device)
            self._passes.append((axis, m if axis == 0 else m.t().contiguous()))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``N×C×H×W`` → ``N×C×H'×W'``."""
        for axis, m in self._passes:
            x = torch.matmul(m, x) if axis == 0 else torch.matmul(x, m)
        return x


class FatherRenderer:
    """Fathers of a fixed ``crop`` size from :class:`~zssr.examples.FatherDraw` s, rendered on ``device``."""

    def __init__(self, crop: tuple[int, int], device: torch.device | str) -> None:
        self.crop = crop
        ch, cw = crop
        ys, xs = torch.meshgrid(torch.arange(ch, dtype=torch.float32), torch.arange(cw, dtype=torch.float32),
                                indexing="ij")
        self._base = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(ch * cw, 3).to(device)

    def thetas(self, draws: Sequence[FatherDraw], sources: Sequence[FatherSource]) -> np.ndarray:
        """``n×2×3`` maps from crop pixels to ``grid_sample``'s normalised source coordinates (float64)."""
        out = np.empty((len(draws), 2, 3), dtype=np.float64)
        for i, draw in enumerate(draws):
            h, w = (int(v) for v in sources[draw.source].image.shape[-2:])
            m = draw.affine(self.crop)
            # align_corners=False: g = (2·s + 1) / size − 1
            out[i, 0] = 2.0 / w * m[0]
            out[i, 1] = 2.0 / h * m[1]
            out[i, 0, 2] += 1.0 / w - 1.0
            out[i, 1, 2] += 1.0 / h - 1.0
        return out

    def __call__(self, source: torch.Tensor, theta: torch.Tensor, padding: str, out: torch.Tensor) -> None:
        """Warp ``source`` (``1×C×H×W``) by ``theta`` (``2×3``, on the device) bicubically into ``out``."""
        grid = torch.matmul(self._base, theta.t()).view(1, *self.crop, 2)
        father = F.grid_sample(source, grid, mode="bicubic", padding_mode=padding, align_corners=False)
        torch.clamp(father, 0.0, 1.0, out=out)


class SonMaker:
    """The net input of a father: its son (kernel, noise, JPEG as :func:`~zssr.examples.make_son`) resized back.

    ``capturable``: bicubic sons with optional noise are pure device work; a numeric
    kernel (index uploads) or JPEG (Pillow on the host) are not, and run uncaptured.
    """

    def __init__(self, crop: tuple[int, int], sf: tuple[float, float], *, kernel: torch.Tensor | None,
                 noise_std: float | Sequence[float], jpeg_quality: int | None, channels: int,
                 device: torch.device | str, speckle_std: Sequence[float] | None = None) -> None:
        self.crop, self.sf, self.kernel, self.jpeg_quality = crop, sf, kernel, jpeg_quality
        self.son_size = output_size(crop, (1.0 / sf[0], 1.0 / sf[1]))[1]
        self._down = MatrixResize(crop, (1.0 / sf[0], 1.0 / sf[1]), None, device) if kernel is None else None
        self._up = MatrixResize(self.son_size, sf, crop, device)
        self.sigma = _device_sigma(noise_std, channels, device)
        self.speckle = None if speckle_std is None else _device_sigma(tuple(speckle_std), channels, device)
        #: Whether the son gets noise (then ``__call__`` needs a son-sized N(0, 1) draw).
        self.noisy = self.sigma is not None or self.speckle is not None
        self.capturable = kernel is None and jpeg_quality is None

    def __call__(self, father: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """``father`` (``1×C×h×w``) → the interpolated son the net learns from; ``noise`` is N(0, 1), son-sized."""
        son = self._down(father) if self._down is not None else degrade(father, self.sf, self.kernel)
        if self.noisy and noise is not None:
            son = add_son_noise(son, noise, self.sigma, self.speckle)
        if self.jpeg_quality is not None:
            son = jpeg_roundtrip(son, self.jpeg_quality)
        return self._up(son)


def _device_sigma(noise_std: float | Sequence[float], channels: int, device: torch.device | str) -> torch.Tensor | None:
    """σ as a ``1×C×1×1`` device tensor (one value or one per channel), None when there is no noise."""
    values = [float(noise_std)] if isinstance(noise_std, (int, float)) else [float(v) for v in noise_std]
    if not any(v > 0 for v in values):
        return None
    if len(values) not in (1, channels):
        raise ValueError(f"noise_std must have 1 or {channels} values (one per channel), got {len(values)}")
    full = values * channels if len(values) == 1 else values
    return torch.tensor(full, dtype=torch.float32, device=device).view(1, channels, 1, 1)


Capture = Callable[[Callable[[], None]], Callable[[], None]]


def cuda_graph_capture(step: Callable[[], None]) -> Callable[[], None]:
    """Capture ``step`` as a CUDA graph; returns its replay (which, like the step, runs one iteration)."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


class StepRunner:
    """Runs the training step: uncaptured for ``warmup`` calls, then captured once and replayed.

    Args:
        step: one whole iteration reading fixed buffers (father, noise) and writing the loss.
        capture: turns ``step`` into a replayable (:func:`cuda_graph_capture`); None never captures.
        warmup: uncaptured calls before the capture.
        isolate: runs a warm-up call (on CUDA, on a side stream, as capture requires).

    A capture that raises is reported once as a warning and the step runs uncaptured
    from then on (``fallback`` holds why): same values, only slower.
    """

    def __init__(self, step: Callable[[], None], *, capture: Capture | None, warmup: int = CAPTURE_WARMUP,
                 isolate: Callable[[Callable[[], None]], None] | None = None) -> None:
        self.step, self.capture, self.warmup = step, capture, warmup
        self.isolate = isolate
        self.calls = 0
        self.replay: Callable[[], None] | None = None
        self.fallback: str | None = None

    @property
    def captured(self) -> bool:
        """Whether calls now replay a captured step."""
        return self.replay is not None

    def __call__(self) -> None:
        """Run one iteration."""
        self.calls += 1
        if self.replay is not None:
            self.replay()
            return
        if self.capture is None or self.fallback is not None:
            self.step()
            return
        if self.calls <= self.warmup:
            (self.isolate or _call)(self.step)
            return
        try:
            self.replay = self.capture(self.step)
        except Exception as exc:  # any capture failure: run the same step uncaptured
            self.fallback = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"training step not captured ({self.fallback}); running it uncaptured", RuntimeWarning,
                          stacklevel=2)
            self.step()
            return
        self.replay()  # a capture records the step without running it


def _call(fn: Callable[[], None]) -> None:
    fn()


def side_stream(device: torch.device) -> Callable[[Callable[[], None]], None]:
    """Run a call on a side stream and join it (CUDA graphs must not see warm-up work on the capture stream)."""
    stream = torch.cuda.Stream(device=device)

    def run(fn: Callable[[], None]) -> None:
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            fn()
        torch.cuda.current_stream(device).wait_stream(stream)

    return run


def block_end(iteration: int, test_every: int, max_iterations: int) -> int:
    """One past the last iteration of the block starting at ``iteration``: it ends at the next test (inclusive)."""
    next_test = math.ceil(iteration / test_every) * test_every
    return min(next_test + 1, max_iterations)
