"""Screening a `best` candidate for Table 1 ×4 (issue #27): an isotropic gradual ladder.

`gradual` generalises the authors' ×2 pattern (1 → 1.5 → … → 2, four of six steps anisotropic)
to ×4 as 1 → 2.5 → 4: only two of its six steps are isotropic, and Set5 ×4 `gradual` lands
at 30.70, 0.43 dB under the paper's 31.13. The paper describes gradual SR as "several
intermediate scale-factors", each output joining the fathers. The candidate here is that
reading: six isotropic steps 1.5, 2, 2.5, 3, 3.5, 4 (``gradual_pattern`` = k/6, k = 1…6),
everything else `gradual`'s. Run through ``zssr.bench`` (the paper's protocol, the SelfExSR
LR files), one seed, on the images named; compare the PSNR with the `gradual` records in
``results/table1/cpu/runs`` (Set5 ×4, seed 0).

The method is given through the API (its label is the one ``zssr bench --method
"zssr:preset=gradual,gradual_pattern=..."`` gives, so both resume the same records).

Usage (repository root): ZSSR_DATA=../shared/data PYTHONPATH=src python benchmarks/table1_ladder_screen.py OUT [MAX_ITERATIONS|0] [IMAGES] [SCALE] [DATASET]
e.g. ``... benchmarks/results/table1/screen_x4_ladder 0 bird,butterfly`` (0: the preset's own budget;
SCALE 4 and DATASET Set5 by default; at any scale the ladder is the same six fractions k/6).
"""

from __future__ import annotations

import os
import sys

from zssr.bench import run_benchmark
from zssr.bench.methods import MethodSpec
from zssr.config import ISOTROPIC_LADDER

LADDER = ISOTROPIC_LADDER  # since named: `zssr:preset=best` runs the same Config


def main() -> None:
    """Run the ladder on the images named (Set5 ×4 unless told)."""
    out = sys.argv[1]
    options: list[tuple[str, object]] = [("gradual_pattern", LADDER), ("preset", "gradual")]
    if len(sys.argv) > 2 and int(sys.argv[2]) > 0:
        options.append(("max_iterations", int(sys.argv[2])))
    images = sys.argv[3].split(",") if len(sys.argv) > 3 else ["bird"]
    scale = float(sys.argv[4]) if len(sys.argv) > 4 else 4.0
    dataset = sys.argv[5] if len(sys.argv) > 5 else "Set5"
    spec = MethodSpec("zssr", tuple(sorted(options)))
    print(spec.label)
    run_benchmark([dataset], out=out, scales=(scale,), methods=[spec], lr_source="selfexsr", images=images,
                  device="cpu", data_root=os.environ.get("ZSSR_DATA", "../shared/data"), seeds=1)


if __name__ == "__main__":
    main()
