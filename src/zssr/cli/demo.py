"""``zssr demo``: bicubic vs ZSSR on a textured crop of a photo shipped with scikit-image."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._atomic import check_writable
from .._figures import save_comparison
from .._modcrop import modcrop
from .._validate import scale_value
from ..config import PRESETS, resolve_config
from ..errors import ImageWriteError
from ..io import to_array, to_tensor, write_image
from ..metrics import evaluate
from ..pipeline import plan_steps, resolve_device, upscale_tensor
from ..resize import imresize
from .inputs import clear_stale_temps, no_empty_folders_left
from .metrics import round_half_away
from .options import add_run_options, progress_factory

#: Demo crops: (top, left) of a 160×160 HR region with texture (face, eyes, spoon)
#: rather than flat background, so the bicubic/ZSSR difference is visible. The LR
#: image is the whole training crop (fast preset: 400 iterations on 80×80 at ×2);
#: 192 px HR took ~6 CPU-minutes, 160 px keeps the demo near 2–3 min on two cores.
_DEMO_SIDE = 160
_DEMO_CROPS: dict[str, tuple[int, int]] = {
    "astronaut": (24, 128),
    "chelsea": (60, 130),
    "coffee": (100, 230),
}


def add_parser(sub: Any) -> None:
    """Register ``zssr demo`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "demo",
        help="bicubic vs ZSSR on a photo shipped with scikit-image",
        description="Crop a photo from scikit-image, downscale it with MATLAB bicubic, then compare bicubic "
        "upscaling with ZSSR (Y-PSNR, as in the paper) and write the images and a comparison figure.",
    )
    p.add_argument("--preset", choices=sorted(PRESETS), default="fast", help="ZSSR preset (default fast)")
    p.add_argument("--scale", type=float, default=2.0, metavar="S", help="SR factor (default 2)")
    p.add_argument("--out-dir", default="zssr-demo", metavar="DIR", help="output folder (default ./zssr-demo)")
    p.add_argument("--max-iterations", type=int, metavar="N", help="training iterations at most")
    p.add_argument("--image", choices=sorted(_DEMO_CROPS), default="astronaut", help="photo (default astronaut)")
    add_run_options(p)
    p.set_defaults(handler=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    import skimage.data

    scale = scale_value(args.scale, "--scale", minimum=1.0, hint=" (an SR factor)")
    config = resolve_config(args.preset, max_iterations=args.max_iterations)
    device = resolve_device(args.device)
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ImageWriteError(f"--out-dir {out_dir} exists and is not a folder")
    check_writable(out_dir)
    clear_stale_temps([out_dir / "comparison.png"])

    # STEP 1 - ground truth: a textured crop of the photo, modcropped so the LR size is exact.
    top, left = _DEMO_CROPS[args.image]
    photo = getattr(skimage.data, args.image)()
    hr8 = modcrop(photo[top : top + _DEMO_SIDE, left : left + _DEMO_SIDE], scale)
    hr = to_tensor(hr8.astype(np.float32) / 255.0)
    # STEP 2 - the LR input as the benchmarks make it: MATLAB bicubic on the uint8 image.
    lr = imresize(hr, 1.0 / scale, quantize=True)
    bicubic = imresize(lr, scale, size=tuple(hr.shape[-2:]), quantize=True)
    # STEP 3 - ZSSR, trained on the LR image alone; scored as the 8-bit PNG it is saved as.
    steps = plan_steps((scale, scale), config)
    print(f"demo: {args.image} {hr8.shape[0]}×{hr8.shape[1]} crop at ({top}, {left}), ×{scale:g}, preset {config.name}")
    result = upscale_tensor(lr, steps, config=config, seed=args.seed, device=device, progress=progress_factory(args.quiet))
    zssr = torch.round(result.image.clamp(0.0, 1.0) * 255.0) / 255.0
    hr_a, bic_a, zssr_a = to_array(hr), to_array(bicubic), to_array(zssr)
    m_bic = evaluate(hr_a, bic_a, scale=scale)
    m_zssr = evaluate(hr_a, zssr_a, scale=scale)
    gain = m_zssr.psnr - m_bic.psnr

    with no_empty_folders_left([out_dir / "comparison.png"]):
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, image in (("lr", to_array(lr)), ("bicubic", bic_a), ("zssr", zssr_a), ("hr", hr_a)):
            write_image(out_dir / f"{name}.png", image)
        save_comparison(hr_a, bic_a, zssr_a, m_bic.psnr, m_zssr.psnr, out_dir / "comparison.png", scale=scale,
                        border=round_half_away(scale))
    iterations = sum(h.iterations for h in result.steps)
    print(f"bicubic  Y-PSNR {m_bic.psnr:6.2f} dB  SSIM {m_bic.ssim:.4f}")
    print(
        f"ZSSR     Y-PSNR {m_zssr.psnr:6.2f} dB  SSIM {m_zssr.ssim:.4f}  "
        f"({iterations} iterations, {result.seconds:.1f} s on {result.device})"
    )
    print(f"gain     {gain:+.2f} dB")
    print(f"wrote {', '.join(str(out_dir / f'{n}.png') for n in ('lr', 'bicubic', 'zssr', 'hr', 'comparison'))}")
    return 0
