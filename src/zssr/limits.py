"""What a run needs and what this machine has, checked before any training.

A user who types ``-s 1000`` should learn in a second that the output cannot fit,
not after an hour or from a traceback. Everything here is arithmetic on sizes:
the plan's memory (measured per output pixel, benchmarks/results/memory_plan.md),
the memory the OS says is available, the largest kernel that still means a
downscaling blur, and the smallest image the method can learn from.

Rules (docs/LIMITS.md):
    * Memory: a step's peak is about ``v·C·H'·W'`` float32 values for an
      ``H'×W'`` output with ``C`` channels (``v`` = 18 with the 8-way ensemble,
      14 with the 4-way one of anisotropic factors, 8 without), plus the earlier
      outputs kept as fathers and a fixed allowance. A run may use at most
      :data:`MEMORY_FRACTION` of the memory available when it starts.
    * Kernel: at most ``16·⌈sf⌉ + 1`` taps per axis and no larger than the input on
      that axis (a father crop is never larger than the input).
    * Input: at least :data:`MIN_INPUT_SIDE` pixels on each side.
    * CPUs: at most :func:`usable_cpus` torch threads per image, and as many worker
      processes (more only wait on each other: 1000 threads made a 4 s job take minutes).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .bands import band_plan
from .config import PRESETS, Config
from .ensemble import tile_pixels
from .errors import KernelError, ResourceError, ScaleError
from .resize import output_size

__all__ = [
    "BANDED_VALUES", "KERNEL_SIDE_PER_FACTOR", "MEMORY_FRACTION", "MIN_INPUT_SIDE", "Plan", "available_memory", "check_kernel_size",
    "RESIZE_VALUES", "check_plan", "check_resize", "check_scale_fits", "check_threads", "describe_plan", "format_bytes", "max_kernel_side", "plan_run",
    "usable_cpus", "values_per_output",
]

#: Smallest input side we accept: the son of a father must keep a few pixels for
#: the 3×3 stack to see texture (a 4-px son at ×2 is already mostly border).
MIN_INPUT_SIDE = 8

#: Share of the available memory a plan may use: the rest is left to the OS, the
#: image decoder/encoder and the estimate's error (measured within 15%).
MEMORY_FRACTION = 0.8

#: Kernel taps per unit of factor: 13 at ×2 (KernelGAN), 31 at ×4 (DIV2KRK) fit with room.
KERNEL_SIDE_PER_FACTOR = 16

#: Fixed allowance of a run besides its images: the net, Adam, training crops, runtime.
FIXED_BYTES = 192 * 2**20

_FLOAT = 4  # bytes of a float32 value: every image tensor of the pipeline


@dataclass(frozen=True)
class Plan:
    """What a run will hold: the size after each step and the peak memory of the largest step."""

    input_size: tuple[int, int]
    channels: int
    steps: tuple[tuple[float, float], ...]
    sizes: tuple[tuple[float, float], ...]
    peak_bytes: float
    values_per_pixel: int
    fixed_bytes: float
    device: str
    iterations: int
    nets: int = 1  #: ``Config.nets``: whole runs whose outputs are averaged (``iterations`` counts them all)

    @property
    def output_size(self) -> tuple[float, float]:
        """The final ``(H, W)`` (``inf`` where the factor overflows)."""
        return self.sizes[-1]


def values_per_output(sf: tuple[float, float], ensemble: bool) -> int:
    """Float32 values held per output pixel and channel at a step's peak (see the module rules).

    ``n`` variants in groups of ``g`` (8 in two groups of 4; 4 in one group for
    anisotropic factors; 1 without ensemble): the variants' stack, plus either one
    group's net input and output, or one group's output and back-projection's
    temporaries, plus the final output's conversions.
    """
    n, g = (1, 1) if not ensemble else ((4, 4) if sf[0] != sf[1] else (8, 4))
    return max(n + 2 * g, n + g + 4) + 2


#: Float32 values per output pixel and channel a banded step holds over the whole output:
#: the result and the final output's two conversions (the rest is over one band's window).
BANDED_VALUES = 3


def _band_window(
    h: int, w: int, ow: float, sf: tuple[float, float], pixels: float, config: Config, bp: int, kernel_side: int | None,
) -> float | None:
    """Output pixels of one band's window where the step is made in bands, else None."""
    if config.inference_pixels is None or not math.isfinite(pixels) or pixels <= config.inference_pixels:
        return None
    plan = band_plan((h, w), sf, depth=config.depth, back_projection_iters=bp, kernel_side=kernel_side,
                     pixels=config.inference_pixels)
    if plan is None or plan.bands == 1:
        return None
    return float(min(plan.window_rows, h) * sf[0] * ow)


def _side(n: int, s: float) -> float:
    v = n * s
    if not math.isfinite(v) or v > 2.0**52:
        return math.inf if not math.isfinite(v) else v
    return float(output_size((n, n), s)[1][0])


def plan_run(
    input_size: tuple[int, int], channels: int, steps: Sequence[tuple[float, float]], *, config: Config,
    device: str | torch.device = "cpu", kernel_side: int | None = None,
) -> Plan:
    """The memory plan of ZSSR on an ``H×W×C`` input through ``steps`` (factors relative to the input).

    Pure arithmetic (no allocation); sizes overflow to ``inf`` rather than raising.
    A step whose output is made in row bands (:mod:`zssr.bands`) holds the whole output
    only as its result, and the ensemble's values over one band's window;
    ``kernel_side`` (the largest kernel the steps may use, None for bicubic) sets
    the bands' halos.
    """
    h, w = int(input_size[0]), int(input_size[1])
    dev = torch.device(device)
    fixed = 4 * tile_pixels(dev) * config.width * _FLOAT + FIXED_BYTES  # a tile's activations + the rest
    sizes: list[tuple[float, float]] = []
    kept = float(channels * h * w * _FLOAT)  # the input, a father source throughout
    peak = 0.0
    values = 0
    bp_iters = config.back_projection_for(len(steps))
    if config.degradation == "auto":  # a clean input gets ideal's back-projection (zssr.degradation.plan_sons)
        bp_iters = tuple(max(a, b) for a, b in zip(bp_iters, PRESETS["ideal"].back_projection_for(len(steps))))
    for sf, bp in zip(steps, bp_iters):
        oh, ow = _side(h, sf[0]), _side(w, sf[1])
        sizes.append((oh, ow))
        v = values_per_output(sf, config.output_flip or config.degradation == "auto")  # auto may pick the ensemble
        pixels = oh * ow
        window = _band_window(h, w, ow, sf, pixels, config, bp, kernel_side)
        if window is not None:  # the result and its conversions whole, the ensemble over one band's window
            v = BANDED_VALUES + math.ceil(v * window / pixels)
        step_peak = kept + v * channels * pixels * _FLOAT + fixed
        if step_peak >= peak:
            peak, values = step_peak, v
        kept += channels * pixels * _FLOAT  # the output becomes a father source
    if config.nets > 1 and sizes:  # the running sum of the runs' outputs, held through the later runs
        peak += channels * sizes[-1][0] * sizes[-1][1] * _FLOAT
    return Plan(
        input_size=(h, w), channels=channels, steps=tuple(steps), sizes=tuple(sizes), peak_bytes=peak,
        values_per_pixel=values, fixed_bytes=fixed, device=str(dev), iterations=config.max_iterations * len(steps) * config.nets,
        nets=config.nets,
    )


def _meminfo_available() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> float | None:
    """Room left under a container's memory limit (cgroup v2, then v1), if any."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit_text = Path(limit_file).read_text().strip()
            if limit_text == "max":
                return None
            limit, usage = float(limit_text), float(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit >= 2.0**60:  # v1's "no limit"
            return None
        return max(limit - usage, 0.0)
    return None


def _sysconf_memory() -> float | None:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def available_memory(device: str | torch.device = "cpu") -> float:
    """Bytes this run may still allocate on ``device``, before the safety margin.

    CPU (and Apple MPS, whose memory is the system's): the smallest of
    ``MemAvailable`` (``/proc/meminfo``) and the room under a cgroup limit; the
    physical memory (``sysconf``) where neither exists. CUDA: the device's free
    memory (``torch.cuda.mem_get_info``). ``inf`` when nothing can be read.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        free, _ = torch.cuda.mem_get_info(dev)
        return float(free)
    known = [v for v in (_meminfo_available(), _cgroup_room()) if v is not None]
    if not known:
        fallback = _sysconf_memory()
        known = [fallback] if fallback is not None else []
    return min(known) if known else math.inf


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, a container's cpuset), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity API (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def check_threads(threads: int | None, name: str = "threads") -> None:
    """Refuse more torch threads than :func:`usable_cpus`.

    Why: threads beyond the CPUs only wait at each other's barriers (``--threads 1000``
    turned a 4 s job into one of over 4 minutes), and a thread count is not clamped
    silently because it changes the output's float rounding (docs/BATCH.md).

    Raises:
        ResourceError: one line naming ``name``, the value and the cap.
    """
    cap = usable_cpus()
    if threads is not None and threads > cap:
        raise ResourceError(f"{name} {threads} is more than the {cap} CPU{'s' if cap > 1 else ''} this process may "
                            f"use; give at most {cap} (more threads than CPUs only wait on each other)")


def format_bytes(n: float) -> str:
    """``21 GB``, ``750 MB``: decimal units, two significant digits, for one-line messages."""
    if not math.isfinite(n):
        return "unbounded"
    if n >= 1e15:
        return f"{n:.1e} bytes"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.2g} {unit}" if n / size < 10 else f"{n / size:,.0f} {unit}"
    return f"{n / 1e3:.0f} kB"


def _fmt_side(v: float) -> str:
    if not math.isfinite(v):
        return "over 1e308"
    return f"{int(v)}" if v < 1e12 else f"{v:.3g}"


def _fmt_dims(h: float, w: float) -> str:
    if not (math.isfinite(h) and math.isfinite(w)):
        return "more than 1e308 pixels per side"
    return f"{_fmt_side(h)}×{_fmt_side(w)} pixels"


def _need(n: float) -> str:
    return f"about {format_bytes(n)} of memory" if math.isfinite(n) else "more memory than any machine has"


def _fmt_factor(sf: tuple[float, float]) -> str:
    return f"×{sf[0]:g}" if sf[0] == sf[1] else f"×{sf[0]:g}x{sf[1]:g}"


def _budget(device: str | torch.device, available: float | None) -> float:
    return MEMORY_FRACTION * (available_memory(device) if available is None else available)


def check_plan(plan: Plan, *, source: str | None = None, available: float | None = None) -> None:
    """Refuse a plan whose peak exceeds :data:`MEMORY_FRACTION` of the available memory.

    Args:
        plan: from :func:`plan_run`.
        source: the input's name, to start the message with.
        available: bytes available (default: :func:`available_memory` of the plan's device).

    Raises:
        ResourceError: one line saying the output size, the memory it needs and
            the largest output that fits.
    """
    budget = _budget(plan.device, available)
    if plan.peak_bytes <= budget:
        return
    h, w = plan.input_size
    oh, ow = plan.output_size
    per_pixel = plan.values_per_pixel * plan.channels * _FLOAT
    max_pixels = max(budget - plan.fixed_bytes, 0.0) / per_pixel
    max_factor = math.sqrt(max_pixels / (h * w))
    where = "this GPU" if torch.device(plan.device).type == "cuda" else "this machine"
    raise ResourceError(
        f"{source + ': ' if source else ''}{_fmt_factor(plan.steps[-1])} of {h}×{w} makes an output of "
        f"{_fmt_dims(oh, ow)}, which needs {_need(plan.peak_bytes)} "
        f"({plan.values_per_pixel} float32 values per output pixel and channel); {where} has "
        f"{format_bytes(budget / MEMORY_FRACTION)} available, enough for an output of about "
        f"{_square(max_pixels)} "
        f"(about ×{max_factor:.3g} of this input)"
    )


#: Float32 values per output pixel and channel of ``zssr resize`` at its peak (the two
#: separable passes, their sums, the conversion and encoding: measured 6-8, docs/LIMITS.md).
RESIZE_VALUES = 8


def check_resize(
    source: str, input_size: tuple[int, int], channels: int, scale: tuple[float, float] | None,
    size: tuple[int, int] | None, *, available: float | None = None,
) -> None:
    """Refuse a resize whose output is below one pixel or cannot fit in memory (before any is done).

    Raises:
        ScaleError: a factor that shrinks an axis below one pixel.
        ResourceError: an output too large for this machine, with the largest that fits.
    """
    h, w = input_size
    if size is not None:
        oh, ow = float(size[0]), float(size[1])
    elif scale is None:
        return  # nothing to resize to: the caller reports it
    else:
        for n, s, axis in ((h, scale[0], "height"), (w, scale[1], "width")):
            if n * s < 1.0:
                raise ScaleError(f"{source}: --scale {s:g} shrinks its {axis} of {n} pixels below one pixel")
        oh, ow = _side(h, scale[0]), _side(w, scale[1])
    need = RESIZE_VALUES * channels * oh * ow * _FLOAT + 2 * channels * h * w * _FLOAT + FIXED_BYTES
    budget = _budget("cpu", available)
    if need <= budget:
        return
    max_pixels = max(budget - FIXED_BYTES, 0.0) / (RESIZE_VALUES * channels * _FLOAT)
    raise ResourceError(
        f"{source}: resizing {h}×{w} to {_fmt_dims(oh, ow)} needs {_need(need)}; this machine has "
        f"{format_bytes(budget / MEMORY_FRACTION)} available, enough for an output of about {_square(max_pixels)}"
    )


def describe_plan(plan: Plan) -> str:
    """One line for the user before a run starts: sizes, iterations at most, memory at the peak."""
    h, w = plan.input_size
    oh, ow = plan.output_size
    runs = f" × {plan.nets} nets averaged" if plan.nets > 1 else ""
    return (
        f"{h}×{w} → {_fmt_dims(oh, ow)} in {len(plan.steps)} step(s){runs}, at most {plan.iterations} training "
        f"iterations, about {format_bytes(plan.peak_bytes)} of memory at the peak"
    )


def _square(pixels: float) -> str:
    side = int(math.sqrt(max(pixels, 0.0)))
    return f"{side}×{side} pixels"


def check_scale_fits(
    steps: Sequence[tuple[float, float]], *, config: Config, device: str | torch.device = "cpu",
    available: float | None = None,
) -> None:
    """Refuse, before any image is read, factors that no accepted input could fit in memory.

    The smallest accepted input (:data:`MIN_INPUT_SIDE` square, one channel) is
    planned; if even that does not fit, no image will, so ``-s 1e9`` is refused at once.

    Raises:
        ResourceError: the factor is too large for this machine.
    """
    plan = plan_run((MIN_INPUT_SIDE, MIN_INPUT_SIDE), 1, steps, config=config, device=device)
    budget = _budget(device, available)
    if plan.peak_bytes <= budget:
        return
    per_pixel = plan.values_per_pixel * _FLOAT
    max_factor = math.sqrt(max(budget - plan.fixed_bytes, 0.0) / per_pixel) / MIN_INPUT_SIDE
    oh, ow = plan.output_size
    raise ResourceError(
        f"scale {_fmt_factor(plan.steps[-1])} is too large for this machine: even an "
        f"{MIN_INPUT_SIDE}×{MIN_INPUT_SIDE} input (the smallest accepted) would make an output of "
        f"{_fmt_dims(oh, ow)}, needing {_need(plan.peak_bytes)}; "
        f"with {format_bytes(budget / MEMORY_FRACTION)} available the factor can be at most about ×{max_factor:.3g} "
        f"(of an {MIN_INPUT_SIDE}×{MIN_INPUT_SIDE} input; less for larger ones)"
    )


def max_kernel_side(factor: float, input_side: int | None = None, *, aligned: bool = False) -> int:
    """The most taps a kernel may have along an axis with SR ``factor`` and an input ``input_side`` long.

    ``16·⌈factor⌉ + 1`` (33 at ×2, 65 at ×4) and no more than the input side;
    ``aligned`` allows for :func:`zssr.kernels.align_kernel`'s padding (``2k + ⌈factor⌉ + 4``).
    """
    side = KERNEL_SIDE_PER_FACTOR * math.ceil(factor) + 1
    if input_side is not None:
        side = min(side, int(input_side))
    return 2 * side + math.ceil(factor) + 4 if aligned else side


def check_kernel_size(
    shape: Sequence[int], factor: tuple[float, float], input_size: tuple[int, int] | None = None, *,
    name: str = "kernel", aligned: bool = False,
) -> None:
    """Refuse a kernel too large to be a downscaling blur for ``factor`` (and the input, when known).

    Why: a blur wider than a father crop (never larger than the input) averages
    the whole crop, and its cost grows with its area: a 1001×1001 kernel on a
    48×48 input ran for minutes per back-projection.

    Raises:
        KernelError: one line with the kernel's size and the bound.
    """
    sizes = input_size if input_size is not None else (None, None)
    bound = tuple(max_kernel_side(f, s, aligned=aligned) for f, s in zip(factor, sizes))
    if shape[0] <= bound[0] and shape[1] <= bound[1]:
        return
    of_input = f" of a {input_size[0]}×{input_size[1]} input" if input_size is not None else ""
    rule = f"{KERNEL_SIDE_PER_FACTOR}·⌈factor⌉ + 1 per axis" + (", and no larger than the input" if input_size else "")
    raise KernelError(
        f"{name} is {shape[0]}×{shape[1]}, too large for {_fmt_factor(factor)}{of_input}: at most "
        f"{bound[0]}×{bound[1]} ({rule}{', after alignment' if aligned else ''}); a wider blur is not a "
        "downscaling kernel"
    )
