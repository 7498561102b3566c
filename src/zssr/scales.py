"""Scale factors: parsing what users type, checking a list of steps, the gradual plan to a target.

Why a room of its own: the CLI, the page, the bench and the pipeline all read scales the same way
(docs/LIMITS.md, "Scales"); the pipeline only runs the steps it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._validate import is_number, scale_pair
from .config import MAX_STEPS, Config
from .errors import ScaleError
from .resize import INTERP_KERNELS, MAX_TAPS

__all__ = ["MAX_SCALE", "ScalePair", "check_steps", "parse_scale", "plan_steps", "step_pair"]

ScalePair = tuple[float, float]


def step_pair(pair: Sequence[float], what: str) -> ScalePair:
    """One ``(vertical, horizontal)`` step: two finite numbers, each ≥ 1 (``what`` names it in errors)."""
    return scale_pair(pair, what, minimum=1.0, strict=False, hint=" (ZSSR only enlarges)")


def parse_scale(text: str | float | Sequence[Any]) -> list[ScalePair]:
    """Scale steps from ``2``, ``"2"``, ``"1.5x2"`` (vertical x horizontal) or ``"1.5,2"`` (steps).

    Python values (docs/LIMITS.md, "Scales"):
        * a number: one target, both axes;
        * a tuple of two numbers (or a list of exactly two numbers, as before):
          one ``(vertical, horizontal)`` target;
        * a list of any other length: explicit steps, each relative to the input
          and each a number, a string like ``"1.5x2"`` or a pair;
        * a tuple of any other length is refused: ``(2, 2, 2)`` could be three
          steps or a mistyped pair, and guessing would train the wrong thing.

    Explicit steps must each enlarge the input, none may repeat, and the last is the
    target (:func:`check_steps`): ``"2,1"``, ``"1,1"`` and ``"2,1.5"`` are refused, not trained.

    Raises:
        ScaleError: anything else, with the value received.
    """
    if is_number(text):
        return check_steps([step_pair((text, text), "scale")])
    if getattr(text, "ndim", None) == 1 and hasattr(text, "tolist"):
        text = tuple(text.tolist())  # a 1-D numpy array or tensor: read as a tuple (one pair)
    if isinstance(text, str):
        steps = []
        for part in text.split(","):
            part = part.strip().lower()
            fields = part.split("x")
            try:
                values = [float(f) for f in fields]
            except ValueError:
                raise ScaleError(f"scale must look like 2, 1.5x2 or 1.5,2 — got {text!r}") from None
            if len(values) == 1:
                values = values * 2
            if len(values) != 2:
                raise ScaleError(f"scale must look like 2, 1.5x2 or 1.5,2 — got {text!r}")
            steps.append(step_pair(values, "scale"))
        return check_steps(steps)
    if not isinstance(text, Sequence) or isinstance(text, bytes):
        raise ScaleError(f"scale must be a number, a string like 2, 1.5x2 or 1.5,2, or a list of steps; got {text!r}")
    items = list(text)
    if len(items) == 2 and all(is_number(v) for v in items):
        return check_steps([step_pair(items, "scale")])
    if not isinstance(text, list):
        raise ScaleError(
            f"scale as a tuple must be one (vertical, horizontal) pair of numbers, got {text!r}; "
            "give explicit steps as a list, e.g. [1.5, 2, 3], or as the string '1.5,2,3'"
        )
    if not items:
        raise ScaleError("scale as a list of steps must name at least one step, got []")
    steps = []
    for item in items:
        if is_number(item):
            steps.append(step_pair((item, item), "scale step"))
        elif isinstance(item, str):
            steps.extend(parse_scale(item))
        elif isinstance(item, Sequence) and not isinstance(item, bytes) and len(item) == 2:
            steps.append(step_pair(item, "scale step"))
        else:
            raise ScaleError(f"each scale step must be a number, a string like '1.5x2' or a (vertical, horizontal) "
                             f"pair, got {item!r} in {text!r}")
    return check_steps(steps)


#: The largest factor of one step: making its sons shrinks fathers by its inverse, and the
#: bicubic antialiasing kernel (4 taps wide) then spans ``4·factor`` pixels (at most ``MAX_TAPS``).
MAX_SCALE = int(MAX_TAPS // INTERP_KERNELS["cubic"].width)


def check_steps(steps: Sequence[ScalePair]) -> list[ScalePair]:
    """Refuse steps that do not enlarge: every step enlarges the input, none repeats, the last is the target.

    Why: a ×1 step trains for minutes and writes (a blur of) the input; ``-s 2,1``
    is always a typo (for ``2x1``), ``-s 2,1.5`` ends below a step it already made.
    The order in between is free: the authors' gradual pattern alternates the axes
    (``1x1.5`` then ``1.5x1``), and an anisotropic target makes its area dip.

    Rules: each step is ≥ 1 on both axes and larger on one; no step repeats an
    earlier one; the last step is ≥ every earlier step on both axes.

    Raises:
        ScaleError: no step, more than ``MAX_STEPS``, or a step breaking a rule, named by position.
    """
    steps = list(steps)
    if not steps:
        raise ScaleError("at least one scale step is needed")
    if len(steps) > MAX_STEPS:
        raise ScaleError(f"at most {MAX_STEPS} scale steps (each trains the net), got {len(steps)}")
    n = len(steps)
    hint = "; one vertical x horizontal factor is written AxB, e.g. 2x1" if n == 2 else ""
    def where(i: int) -> str:
        return f"scale step {i + 1} of {n} ({_fmt_pair(steps[i])})" if n > 1 else f"scale {_fmt_pair(steps[i])}"

    for i, step in enumerate(steps):
        if step[0] < 1.0 or step[1] < 1.0 or step == (1.0, 1.0):
            raise ScaleError(f"{where(i)} does not enlarge the input: ZSSR only enlarges{hint}")
    for i, step in enumerate(steps):
        if max(step) > MAX_SCALE:
            raise ScaleError(
                f"{where(i)} is beyond what ZSSR can train on: its LR sons are fathers shrunk ×1/{max(step):g}, "
                f"whose antialiasing kernel would span {4 * max(step):.3g} pixels (at most {MAX_TAPS}), so a step "
                f"may enlarge at most ×{MAX_SCALE}; reach a larger output in two runs"
            )
    for i, step in enumerate(steps):
        if step in steps[:i]:
            raise ScaleError(f"{where(i)} repeats step {steps.index(step) + 1}: each step trains the net again")
    last = steps[-1]
    for i, step in enumerate(steps):
        if step[0] > last[0] or step[1] > last[1]:
            raise ScaleError(
                f"{where(i)} is larger than the last step ({_fmt_pair(last)}) on an axis: the last step is the "
                f"target, every step before it must fit inside it{hint}"
            )
    return steps


def _fmt_pair(pair: ScalePair) -> str:
    return f"×{pair[0]:g}" if pair[0] == pair[1] else f"×{pair[0]:g}x{pair[1]:g}"


def plan_steps(target: ScalePair, config: Config) -> list[ScalePair]:
    """The gradual steps to ``target``: ``1 + (target − 1)·f`` for each ``f`` of the pattern.

    Steps that would not enlarge (1×1) are dropped; duplicates collapse.
    """
    steps: list[ScalePair] = []
    for fy, fx in config.gradual_pattern:
        step = (1.0 + (target[0] - 1.0) * fy, 1.0 + (target[1] - 1.0) * fx)
        if step != (1.0, 1.0) and step not in steps:
            steps.append(step)
    return steps or [target]
