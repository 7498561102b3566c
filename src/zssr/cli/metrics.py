"""``zssr metrics``: PSNR/SSIM of image files or folders under the MATLAB protocol of the SR papers."""

from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._atomic import say
from ..errors import ImageReadError, ScaleError, ShapeError, ZSSRError
from ..io import collect_inputs, missing_reason, read_image
from ..metrics import evaluate
from .options import parse_factor_pair


def add_parser(sub: Any) -> None:
    """Register ``zssr metrics`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "metrics",
        help="PSNR/SSIM under the MATLAB protocol of the SR papers",
        description="PSNR and SSIM on the luminance Y of MATLAB rgb2ycbcr with the border shaved (the "
        "protocol behind the paper's tables). Folders are matched by file name.",
    )
    p.add_argument("--reference", required=True, metavar="A", help="ground-truth image or folder")
    p.add_argument("--test", required=True, metavar="B", help="image or folder to score")
    border = p.add_mutually_exclusive_group()
    border.add_argument("--scale", metavar="S", help="SR factor: shaves round(S) pixels per side")
    border.add_argument("--shave", type=int, metavar="N", help="pixels to shave per side (default 0)")
    p.add_argument("--rgb", action="store_true", help="score all RGB channels instead of Y")
    p.add_argument("--json", action="store_true", help="print JSON (per image and mean) instead of a table")
    p.set_defaults(handler=_cmd_metrics)


def _cmd_metrics(args: argparse.Namespace) -> int:
    from ..metrics import SizeMismatchWarning

    scale = parse_factor_pair(args.scale, "--scale") if args.scale is not None else None
    if args.shave is not None and args.shave < 0:
        raise ScaleError(f"--shave must be >= 0, got {args.shave}")
    pairs = _metric_pairs(Path(args.reference), Path(args.test))
    channel: Literal["y", "rgb"] = "rgb" if args.rgb else "y"
    rows: list[tuple[str, float, float]] = []
    for name, ref_path, test_path in pairs:
        reference, test = read_image(ref_path).color, read_image(test_path).color
        _check_same_kind(name, ref_path, reference, test_path, test)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SizeMismatchWarning)
            result = evaluate(reference, test, scale=scale, shave=args.shave, channel=channel)
        for warning in caught:
            say(f"zssr: warning: {name}: {warning.message}")
        rows.append((name, result.psnr, result.ssim))
    mean_psnr = float(np.mean([r[1] for r in rows]))
    mean_ssim = float(np.mean([r[2] for r in rows]))
    # The border evaluate() shaves: round(scale) per axis (half away from zero), or --shave.
    if scale is not None and args.shave is None:
        shave = [round_half_away(s) for s in scale]
    else:
        shave = [args.shave or 0] * 2
    if args.json:
        report = {
            "channel": channel,
            "scale": list(scale) if scale is not None else None,
            "shave": shave,
            "images": [{"name": n, "psnr": _json_number(p), "ssim": _json_number(s)} for n, p, s in rows],
            "mean": {"psnr": _json_number(mean_psnr), "ssim": _json_number(mean_ssim), "count": len(rows)},
        }
        print(json.dumps(report, indent=2))
        return 0
    width = max(len("mean"), max(len(r[0]) for r in rows))
    border = f"{shave[0]}" if shave[0] == shave[1] else f"{shave[0]}x{shave[1]}"
    print(f"# {'Y' if channel == 'y' else 'RGB'} channel, {border}-px border shaved")
    print(f"{'image':<{width}}  {'PSNR (dB)':>9}  {'SSIM':>6}")
    for name, p, s in rows:
        print(f"{name:<{width}}  {p:9.2f}  {s:6.4f}")
    print(f"{'mean':<{width}}  {mean_psnr:9.2f}  {mean_ssim:6.4f}")
    return 0


def _check_same_kind(name: str, ref_path: Path, reference: np.ndarray, test_path: Path, test: np.ndarray) -> None:
    """Refuse a gray image scored against a colour one (an RGB file whose three planes are equal is gray).

    Why: the Y of a colour image (``rgb2ycbcr``, 16–235) and a gray value used as Y
    are different scales, and either way the score says nothing about SR quality.
    An RGB file holding a gray picture is fine (``evaluate`` scores it as gray).
    """
    if reference.shape[2] == test.shape[2]:
        return
    rgb = reference if reference.shape[2] == 3 else test
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        return
    kinds = {1: "gray", 3: "colour (RGB)"}
    raise ShapeError(
        f"{name}: --reference {ref_path} is {kinds.get(reference.shape[2], '?')} but --test {test_path} is "
        f"{kinds.get(test.shape[2], '?')}; a gray image scored against a colour one means nothing "
        "(convert one so both are gray or both RGB)"
    )


def round_half_away(x: float) -> int:
    """Round half away from zero, as MATLAB's ``round`` does (Python rounds half to even)."""
    return int(math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1))


def _json_number(value: float) -> float | None:
    # JSON has no infinity: identical images (PSNR = inf) are written as null.
    return value if math.isfinite(value) else None


def _metric_pairs(reference: Path, test: Path) -> list[tuple[str, Path, Path]]:
    """``(name, reference, test)`` for two files, or for two folders matched by file name (then stem)."""
    for label, path in (("--reference", reference), ("--test", test)):
        if not path.exists():
            raise ImageReadError(f"{label} {path} {missing_reason(path)}")
    if reference.is_file() and test.is_file():
        return [(reference.name, reference, test)]
    if not (reference.is_dir() and test.is_dir()):
        raise ZSSRError(f"--reference and --test must both be files or both be folders, got {reference} and {test}")
    references = collect_inputs([reference])
    tests = collect_inputs([test])
    by_name = {p.name: p for p in tests}
    by_stem: dict[str, list[Path]] = {}
    for p in tests:
        by_stem.setdefault(p.stem, []).append(p)
    pairs, missing = [], []
    for ref in references:
        match = by_name.get(ref.name)
        if match is None and len(by_stem.get(ref.stem, [])) == 1:
            match = by_stem[ref.stem][0]
        if match is None:
            missing.append(ref.name)
        else:
            pairs.append((ref.name, ref, match))
    if missing:
        raise ImageReadError(
            f"test folder {test} has no image for {len(missing)} of {len(references)} reference images: "
            f"{', '.join(missing)}"
        )
    return pairs
