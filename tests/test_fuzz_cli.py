"""Property-based fuzzing of the ``zssr`` command line (issue #16, item 4).

Every subcommand is run in-process (``zssr.cli.main``) on argument lists drawn by Hypothesis
over its whole option space (files of every format and a few broken ones, folders, missing
paths, outputs onto inputs/folders/missing parents, numbers as text of every spelling, garbage),
under a budget (tiny images, ≤ 3 iterations, factors ≤ 4) so an example runs in well under a
second. Each run must keep the README's promises (see ``tests/fuzzing.py``): exit 0 or 2, one
``zssr: error:`` line for a failure, no traceback, inputs unchanged, nothing half-written, and
nothing at all written by a failure; the profile's deadline and a hard timeout bound its time.

The seven causes of issue #16 each have a regression test below (they failed before the fixes,
commit history: branch ``robust``); the main strategies draw out-of-range seeds and ``cuda:N``
devices too, while factors above the budget stay in their own test (a valid ``-s 64`` is a
long run, not a bug).

Profiles (``tests/conftest.py``): ``ci`` by default (deterministic, about a minute in all),
``long`` by ``pytest --hypothesis-profile=long tests/test_fuzz_*.py`` (docs/FUZZING.md).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch
from fuzzing import (
    NO_SHRINK,
    ImageSpec,
    KernelFile,
    check_files,
    check_outcome,
    device_texts,
    encode_kernel,
    fresh_root,
    good_factor_texts,
    good_scale_texts,
    good_seed_texts,
    good_set_items,
    image_specs,
    kernel_files,
    run_cli,
    scale_texts,
    seed_texts,
    set_items,
    snapshot,
    valid_kernel_files,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from zssr.config import PRESETS

SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
TIME_BUCKETS = ((0.5, "< 0.5 s"), (2.0, "0.5-2 s"), (5.0, "2-5 s"), (math.inf, ">= 5 s"))


def examples(fraction: float) -> int:
    """``fraction`` of the active profile's ``max_examples`` (so ``long`` scales every test)."""
    return max(1, int(settings.default.max_examples * fraction))


# ----------------------------------------------------------------------------- the world of one example


class World:
    """One example's folder: ``in/`` (inputs, protected), ``out/`` (an empty output folder), ``old.png``."""

    def __init__(self, root: Path, data: Any) -> None:
        self.root, self.data = root, data
        torch.set_num_threads(1)  # tiny tensors: one thread is as fast, and steadier on a shared machine
        self.inputs = root / "in"
        self.out = root / "out"
        self.inputs.mkdir()
        self.out.mkdir()
        self.old = ImageSpec("PNG", "RGB", 8, 8, 1).write(root, "old")
        self.count = 0
        # how often an option takes a wrong value: most examples are mostly right, so they get past
        # the first check and reach the later ones (and the happy path) in many combinations
        self.fault_rate = self.draw(st.sampled_from([0, 0, 5, 10, 25, 60]), "fault rate %")

    def faulty(self, label: str = "fault") -> bool:
        """Whether this option takes a wrong value (drawn at the example's fault rate)."""
        return self.draw(st.integers(0, 99), label) < self.fault_rate

    def pick(self, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], label: str = "") -> Any:
        """A value from ``good``, or from ``bad`` at the fault rate."""
        return self.draw(bad if self.faulty() else good, label)

    def draw(self, strategy: st.SearchStrategy[Any], label: str = "") -> Any:
        """Draw from the example's data (labelled in the failure report)."""
        return self.data.draw(strategy, label=label or None)

    def name(self, stem: str) -> str:
        """A fresh file stem."""
        self.count += 1
        return f"{stem}{self.count}"

    def image(self, **bounds: Any) -> Path:
        """A drawn image file in ``in/``."""
        return self.draw(image_specs(**bounds), "image").write(self.inputs, self.name("img"))

    def kernel(self, **bounds: Any) -> Path:
        """A drawn kernel file (valid or not) in ``in/``."""
        return self.draw(kernel_files(**bounds), "kernel").write(self.inputs, self.name("kernel"))

    def input_path(self, *, min_side: int = 1, max_side: int = 24) -> Path:
        """An input argument: an image or a folder of images, or (at the fault rate) a path that is not one."""
        if not self.faulty("input fault"):
            if self.draw(st.integers(0, 4), "folder?"):
                return self.image(min_side=max(min_side, 8), max_side=max_side)
            folder = self.inputs / self.name("dir")
            folder.mkdir()
            for _ in range(self.draw(st.integers(1, 2))):
                self.draw(image_specs(min_side=max(min_side, 8), max_side=max_side)).write(folder, self.name("img"))
            return folder
        kind = self.draw(st.sampled_from(["small", "missing", "garbage", "text", "empty-folder", "kernel"]), "bad input")
        if kind == "small":
            return self.image(min_side=1, max_side=max_side)
        if kind == "missing":
            return self.inputs / "missing.png"
        if kind == "garbage":
            path = self.inputs / f"{self.name('garbage')}{self.draw(st.sampled_from(['.png', '.jpg', '.tif', '']))}"
            path.write_bytes(self.draw(st.binary(max_size=64)))
            return path
        if kind == "text":
            path = self.inputs / "notes.txt"
            path.write_text("not an image\n")
            return path
        if kind == "kernel":
            return self.kernel()
        folder = self.inputs / self.name("empty")
        folder.mkdir()
        return folder

    def image_output(self, inputs: list[Path]) -> list[str]:
        """``-o FILE`` or ``--out-dir DIR``; at the fault rate a wrong one (onto an input, a folder, no parent, …)."""
        suffix = st.sampled_from([".png", ".jpg", ".tif", ".bmp", ".webp", ".PNG", ".tiff", ".jpeg"])
        good = [
            ["-o", self.out / f"result{self.draw(suffix)}"],
            ["-o", self.old],
            ["--out-dir", self.out],
            ["--out-dir", self.out / "new" / "sub"],
        ]
        bad = [
            ["-o", self.out / f"result{self.draw(st.sampled_from(['.gif', '', '.png.tmp', '.txt']))}"],
            ["-o", self.root / "missing" / "x.png"],
            ["-o", self.out],
            ["--out-dir", self.old],
            ["--out-dir", self.inputs],
            ["-o", self.out / "a.png", "--out-dir", self.out],
            [],
        ]
        if inputs:
            bad.append(["-o", inputs[0]])
        return [str(a) for a in self.pick(st.sampled_from(good), st.sampled_from(bad), "output")]

    def maybe(self, tokens: list[str], label: str) -> list[str]:
        """``tokens`` or nothing."""
        return tokens if self.draw(st.booleans(), label) else []


def assemble(world: World, head: list[str], groups: list[list[str]]) -> list[str]:
    """``head`` then the option groups in a drawn order (argparse must not care)."""
    order = world.draw(st.permutations(range(len(groups))), "option order")
    return head + [token for i in order for token in groups[i]]


def check_run(world: World, argv: list[str], *, codes: tuple[int, ...] = (0, 2), may_write_on_failure: bool = False) -> Any:
    """Run ``argv`` and check the outcome and the files against the snapshot taken just before."""
    before = snapshot(world.root)
    run = run_cli(argv)
    event(f"exit {run.code}")
    if os.environ.get("ZSSR_FUZZ_SLOW") and run.seconds > float(os.environ["ZSSR_FUZZ_SLOW"]):
        print(f"SLOW {run.seconds:.2f} {' '.join(run.argv)}", file=sys.__stderr__)
    event("took " + next(label for limit, label in TIME_BUCKETS if run.seconds < limit))
    if run.code == 2:  # the first words of the message, paths and numbers left out (a summary of what was refused)
        words = [w for w in run.err.split()[2:] if "/" not in w and not any(c.isdigit() for c in w)]
        event("error: " + " ".join(words[:4]))
    check_outcome(run, codes=codes)
    check_files(world.root, before, protected=list(p for p in before if world.inputs in p.parents),
                failed=run.code != 0, may_write_on_failure=may_write_on_failure)
    return run


# ----------------------------------------------------------------------------- zssr upscale


def upscale_argv(world: World, *, scale: str | None = None, seed: str | None = None, device: str | None = None,
                 kernel: list[str] | None = None) -> list[str]:
    """A drawn ``zssr upscale`` command within the budget; the keywords pin one option (for the cause tests)."""
    inputs = [world.input_path() for _ in range(1 + world.faulty("second input"))]
    groups: list[list[str]] = [world.image_output(inputs), ["--quiet"]]
    if scale is not None:
        groups.append(["-s", scale])
    elif not world.faulty("no -s"):
        groups.append(["-s", world.pick(good_scale_texts(), scale_texts(), "scale")])
    bad_count = st.sampled_from(["0", "-1", "x", "1.5", ""])
    groups.append(["--max-iterations", world.pick(st.integers(1, 3).map(str), bad_count, "iterations")])
    presets = st.sampled_from(sorted(PRESETS))
    groups.append(world.maybe(["--preset", world.pick(presets, st.sampled_from(["Ideal", "", "nope"]))], "preset"))
    if kernel is not None:
        groups.append(kernel)
    elif world.draw(st.integers(0, 3), "no kernel") == 0:
        choice = world.pick(st.sampled_from(["file", "auto", "AUTO "]), st.sampled_from(["missing", "image", "bad file"]))
        path = {"file": lambda: world.draw(valid_kernel_files()).write(world.inputs, "k"),
                "bad file": lambda: world.kernel(), "auto": lambda: "auto", "AUTO ": lambda: "AUTO ",
                "missing": lambda: world.inputs / "missing.npy", "image": lambda: world.image()}[choice]()
        groups.append(["--kernel", str(path)])
        groups.append(world.maybe(["--estimator", world.pick(st.just("edges"), st.sampled_from(["kernelgan", "x"]))],
                                  "estimator"))
    if world.faulty("kernelgan options"):
        groups.append(world.maybe(["--kernel-iterations", world.draw(st.sampled_from(["1", "0", "-3", "x"]))], "kiter"))
        groups.append(world.maybe(["--kernel-restarts", world.draw(st.sampled_from(["0", "1", "-1", "x"]))], "krestarts"))
        groups.append(world.maybe(["--width-correction"], "width correction"))
    noise = st.sampled_from(["0", "0.01", "0.05"])
    groups.append(world.maybe(["--noise-std", world.pick(noise, st.sampled_from(["-1", "nan", "inf", "1e300", "x"]))],
                              "noise"))
    groups.append(world.maybe(["--no-back-projection"], "no bp"))
    gradual = world.pick(st.sampled_from(["1", "2", "3"]), st.sampled_from(["0", "-2", "x"]))
    groups.append(world.maybe(["--gradual", gradual], "gradual"))
    if seed is not None:
        groups.append(["--seed", seed])
    elif world.draw(st.booleans(), "has seed"):
        groups.append(["--seed", world.pick(good_seed_texts(), seed_texts(), "seed")])
    if device is not None:
        groups.append(["--device", device])
    elif world.draw(st.booleans(), "has device"):
        groups.append(["--device", world.pick(st.sampled_from(["cpu", "auto"]), device_texts(), "device")])
    if world.draw(st.integers(0, 7), "curves?") == 0:  # a matplotlib figure: ~1 s
        groups.append(["--save-curves"])
    for _ in range(world.draw(st.integers(0, 3), "--set count")):
        groups.append(["--set", world.pick(good_set_items(), set_items(), "--set")])
    return assemble(world, ["upscale", *map(str, inputs)], groups)


@settings(max_examples=examples(0.5), suppress_health_check=SLOW_OK)
@given(st.data())
def test_upscale_on_any_arguments_exits_0_or_2_with_one_line_and_writes_only_complete_outputs(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        check_run(world, upscale_argv(world))


# ----------------------------------------------------------------------------- zssr resize


@settings(max_examples=examples(0.5), suppress_health_check=SLOW_OK)
@given(st.data())
def test_resize_on_any_arguments_exits_0_or_2_with_one_line_and_writes_only_complete_outputs(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        inputs = [world.input_path() for _ in range(world.draw(st.integers(1, 2)))]
        factor = world.pick(good_scale_texts(low=0.05).filter(lambda t: "," not in t),
                            st.one_of(scale_texts(low=0.05), st.sampled_from(["1e-9", "1e-5", "0.0002"])), "scale")
        how = world.draw(st.sampled_from(["scale", "scale", "size", "both", "neither"]), "how")
        size = st.one_of(
            st.builds(lambda h, w: f"{h}x{w}", st.integers(1, 64), st.integers(1, 64)),
            st.sampled_from(["0x4", "4", "-3x4", "4x4x4", "ax4", "", "4.5x4"]),
        )
        groups = [world.image_output(inputs)]
        if how in ("scale", "both"):
            groups.append(["--scale", factor])
        if how in ("size", "both"):
            groups.append(["--size", world.draw(size, "size")])
        method = world.draw(st.sampled_from(["none", "cubic", "lanczos3", "box", "nope", "kernel", "kernel"]), "method")
        if method == "kernel":
            groups.append(["--kernel", str(world.kernel())])
        elif method != "none":
            groups.append(["--method", method])
        groups.append(world.maybe(["--no-antialias"], "no antialias"))
        check_run(world, assemble(world, ["resize", *map(str, inputs)], groups))


# ----------------------------------------------------------------------------- zssr metrics


@settings(max_examples=examples(0.5), suppress_health_check=SLOW_OK)
@given(st.data())
def test_metrics_on_any_arguments_exits_0_or_2_with_one_line_and_writes_nothing(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        reference = world.input_path()
        # the test image: the same file, a copy, one of another size/mode, or anything else
        kind = world.draw(st.sampled_from(["same", "copy", "other", "folder-pair", "any"]), "test kind")
        if kind == "same":
            test = reference
        elif kind == "copy" and reference.is_file():
            test = world.inputs / f"copy{reference.suffix}"
            test.write_bytes(reference.read_bytes())
        elif kind == "folder-pair":
            reference, test = world.inputs / "refs", world.inputs / "tests"
            reference.mkdir(), test.mkdir()
            for name in world.draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)):
                spec = world.draw(image_specs(max_side=16))
                spec.write(reference, name)
                if world.draw(st.integers(0, 4)):
                    (world.draw(image_specs(max_side=16)) if world.draw(st.booleans()) else spec).write(test, name)
        else:
            test = world.input_path()
        groups = [["--reference", str(reference)], ["--test", str(test)]]
        border = world.draw(st.sampled_from(["none", "scale", "shave", "both"]), "border")
        if border in ("scale", "both"):
            groups.append(["--scale", world.draw(scale_texts(low=0.01, high=8.0), "scale")])
        if border in ("shave", "both"):
            groups.append(["--shave", world.draw(st.one_of(st.integers(-2, 30).map(str), st.sampled_from(["x", "1.5"])))])
        groups.append(world.maybe(["--rgb"], "rgb"))
        groups.append(world.maybe(["--json"], "json"))
        check_run(world, assemble(world, ["metrics"], groups))


# ----------------------------------------------------------------------------- zssr kernel


def _kernel_output(world: World, *, picture_only: bool = False) -> str:
    good_suffix = st.sampled_from([".png"] if picture_only else [".mat", ".npy", ".txt", ".csv", ".png", ".MAT"])
    suffix = world.pick(good_suffix, st.sampled_from([".jpg", "", ".gif", ".npy" if picture_only else ".tif"]), "suffix")
    where = world.pick(st.just("out"), st.sampled_from(["missing", "folder", "input"]), "kernel out")
    return str({"out": world.out / f"k{suffix}", "missing": world.root / "missing" / f"k{suffix}",
                "folder": world.out, "input": world.inputs / f"kernel1{suffix}"}[where])


def _good_kernel(world: World) -> Path:
    if world.faulty("kernel input"):
        return world.kernel() if world.draw(st.booleans()) else world.input_path()
    return world.draw(valid_kernel_files(), "kernel").write(world.inputs, world.name("kernel"))


@settings(max_examples=examples(0.4), suppress_health_check=SLOW_OK)
@given(st.data())
def test_kernel_subcommands_on_any_arguments_exit_0_or_2_with_one_line(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        action = world.pick(st.sampled_from(["gaussian", "gaussian", "show", "compose", "estimate"]), st.just("nope"))
        sigma = world.pick(st.floats(0.3, 4.0).map(lambda v: f"{v:.3g}"),
                           st.sampled_from(["0", "-1", "nan", "inf", "x", "1e5", "1e300"]))
        size = st.one_of(st.integers(1, 41).map(str), st.just("13"))
        bad_size = st.sampled_from(["0", "-1", "x", "1.5", "", "100000", "1026"])
        if action == "gaussian":
            groups = [["-o", _kernel_output(world)]]
            groups.append(world.maybe(["--size", world.pick(size, bad_size, "size")], "has size"))
            random = world.draw(st.booleans(), "random")
            if random or world.faulty():
                groups.append(["--random"])
                groups.append(["--scale", world.pick(good_factor_texts(),
                                                     st.one_of(scale_texts(low=0.5), st.sampled_from(["1e5", "1e300"])),
                                                     "scale")])
                groups.append(world.maybe(["--recipe", world.pick(st.sampled_from(["zssr", "div2krk"]), st.just("x"))],
                                          "recipe"))
                groups.append(world.maybe(["--seed", world.pick(good_seed_texts(), seed_texts())], "seed"))
            if not random or world.faulty():
                groups.append(["--sigma", world.pick(st.floats(0.3, 4.0).map(lambda v: f"{v:.3g}"), st.just(sigma)),
                               world.pick(st.floats(0.3, 4.0).map(lambda v: f"{v:.3g}"), st.just(sigma))])
                theta = world.pick(st.floats(-10, 10).map(repr), st.sampled_from(["nan", "inf", "x"]))
                groups.append(world.maybe(["--theta", theta], "theta"))
            argv = assemble(world, ["kernel", "gaussian"], groups)
        elif action in ("show", "compose"):
            source = _good_kernel(world)
            if action == "show":
                groups = [world.maybe(["-o", _kernel_output(world, picture_only=True)], "output")]
            else:
                groups = [["-o", _kernel_output(world)], world.maybe(["--size", world.pick(size, bad_size)], "size")]
            argv = assemble(world, ["kernel", action, str(source)], groups)
        elif action == "estimate":
            source = world.input_path(max_side=24) if world.faulty("small") else world.image(min_side=84, max_side=96)
            groups = [["-o", _kernel_output(world)], ["--quiet"]]
            groups.append(world.maybe(["-s", world.pick(good_scale_texts(), scale_texts())], "scale"))
            groups.append(world.maybe(["--estimator", world.pick(st.just("edges"), st.just("x"))], "estimator"))
            if world.faulty("kernelgan options"):
                groups.append(world.maybe(["--iterations", world.draw(st.sampled_from(["1", "0", "x"]))], "iterations"))
                groups.append(world.maybe(["--restarts", world.draw(st.sampled_from(["0", "-1"]))], "restarts"))
                groups.append(world.maybe(["--width-correction"], "wc"))
            groups.append(world.maybe(["--seed", world.pick(good_seed_texts(), seed_texts())], "seed"))
            groups.append(world.maybe(["--device", world.pick(st.sampled_from(["cpu", "auto"]), device_texts())], "device"))
            argv = assemble(world, ["kernel", "estimate", str(source)], groups)
        else:
            argv = ["kernel", "nope"]
        check_run(world, argv)


# ----------------------------------------------------------------------------- zssr bench


def _method_specs() -> st.SearchStrategy[str]:
    tiny = "zssr:preset=fast,max_iterations=1,crop_size=8"
    return st.sampled_from(["bicubic", "bicubic", tiny, "zssr-kernel:preset=fast,max_iterations=1,crop_size=8"])


@settings(max_examples=examples(0.25), suppress_health_check=SLOW_OK)
@given(st.data())
def test_bench_on_any_arguments_exits_0_or_2_with_one_line_and_writes_only_complete_files(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        dataset = world.inputs / "set"
        dataset.mkdir()
        for name in world.draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=0, max_size=2, unique=True), "images"):
            world.draw(image_specs(min_side=4, max_side=24, formats=("PNG", "JPEG", "TIFF"))).write(dataset, name)
        groups = [["--dataset", str(world.draw(st.sampled_from([dataset, dataset, world.inputs / "none", "Set99"])))],
                  ["--out", str(world.draw(st.sampled_from([world.out / "bench", world.old])))], ["--quiet"]]
        for scale in world.draw(st.lists(st.one_of(st.sampled_from(["2", "3", "1.5"]),
                                                   st.sampled_from(["0", "-1", "nan", "x", "1"])), max_size=2), "scales"):
            groups.append(["--scale", scale])
        for method in world.draw(st.lists(_method_specs(), max_size=2), "methods") or ["bicubic"]:
            groups.append(["--method", method])
        for degradation in world.draw(st.lists(st.sampled_from(["bicubic", "gaussian-kernel", "degraded", "x"]), max_size=2)):
            groups.append(["--degradation", degradation])
        groups.append(world.maybe(["--lr-source", world.draw(st.sampled_from(["auto", "imresize", "selfexsr", "x"]))], "lr"))
        groups.append(world.maybe(["--kernel-recipe", world.draw(st.sampled_from(["zssr", "div2krk", "x"]))], "recipe"))
        groups.append(world.maybe(["--data-seed", world.draw(st.sampled_from(["0", "7", "x"]))], "data seed"))
        groups.append(world.maybe(["--seeds", world.draw(st.sampled_from(["1", "2", "0", "-1", "x"]))], "seeds"))
        groups.append(world.maybe(["--limit", world.draw(st.sampled_from(["1", "0", "-1", "x"]))], "limit"))
        groups.append(world.maybe(["--images", world.draw(st.sampled_from(["a", "a,b", "zzz", ",", ""]))], "images"))
        groups.append(world.maybe(["--device", world.draw(device_texts())], "device"))
        groups.append(world.maybe(["--jobs", world.draw(st.sampled_from(["1", "0", "-1", "x"]))], "jobs"))
        check_run(world, assemble(world, ["bench"], groups))


# ----------------------------------------------------------------------------- Ctrl-C


#: Where a run can be interrupted: each long phase, and each step of the atomic write.
INTERRUPT_POINTS = {
    "training": ("zssr.pipeline", "train_scale_step"),
    "inference": ("zssr.pipeline", "super_resolve_bounded"),
    "encode": ("zssr.io.write", "atomic_write"),
    "fsync": ("os", "fsync"),
    "rename": ("os", "replace"),
    "curves": ("zssr.task", "save_training_curves"),
}


class Interrupter:
    """Patches ``module.name`` to raise KeyboardInterrupt on its ``at``-th call (earlier calls go through)."""

    def __init__(self, target: tuple[str, str], at: int) -> None:
        import importlib

        module = importlib.import_module(target[0])
        self.original = getattr(module, target[1])
        self.patch = mock.patch.object(module, target[1], self)
        self.at, self.calls = at, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.original(*args, **kwargs)

    def __enter__(self) -> Interrupter:
        self.patch.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.patch.__exit__(*exc)


@settings(max_examples=examples(0.15), suppress_health_check=SLOW_OK)
@given(st.data())
def test_ctrl_c_in_any_phase_exits_130_leaving_inputs_and_no_partial_file(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        source = world.image(min_side=8, max_side=16, valid=True)  # a run that reaches every phase
        out = world.draw(st.sampled_from([["-o", str(world.out / "x.png")], ["--out-dir", str(world.out / "new")]]))
        point = world.draw(st.sampled_from(sorted(INTERRUPT_POINTS)), "interrupt at")
        curves = ["--save-curves"] if point == "curves" else []  # a matplotlib figure: ~1 s
        argv = ["upscale", str(source), "-s", world.draw(st.sampled_from(["2", "1.5,2"])), *out, "--quiet",
                "--max-iterations", "2", "--preset", "fast", *curves]
        with Interrupter(INTERRUPT_POINTS[point], world.draw(st.integers(1, 2), "call")) as interrupter:
            run = check_run(world, argv, codes=(0, 130), may_write_on_failure=True)
        assert run.code == (130 if interrupter.calls >= interrupter.at else 0), run.describe()


# ----------------------------------------------------------------------------- the seven causes of issue #16 (regression tests)


@settings(max_examples=examples(0.1), suppress_health_check=SLOW_OK, phases=NO_SHRINK)
@given(st.data())
def test_cause_1_huge_scales_are_refused_up_front_in_one_line(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        huge = world.draw(st.one_of(st.sampled_from(["1e6", "1e9", "1e308", "1_000_000", "1e6x2", "2,1e7"]),
                                    st.floats(1e6, 1e308).map(repr)), "huge scale")
        run = check_run(world, ["upscale", str(world.image(min_side=8, max_side=12)), "-s", huge, "-o",
                                str(world.out / "x.png"), "--quiet", "--max-iterations", "1"])
        # refused for the size of its output or the factor's own bound (not by a later stage with a puzzling message)
        assert run.code == 2 and run.seconds < 5 and "output" in run.err.lower(), run.describe()


@settings(max_examples=examples(0.01), suppress_health_check=SLOW_OK, deadline=None, phases=NO_SHRINK)
@given(st.data())
def test_cause_1_huge_resizes_are_refused_up_front_in_one_line(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        how = world.draw(st.sampled_from([["--scale", "1e6"], ["--scale", "3e4x3e4"], ["--size", "1000000x1000000"]]))
        source = world.image(min_side=8, max_side=12)
        before = snapshot(world.root)
        run = run_cli(["resize", str(source), *how, "-o", str(world.out / "x.png")], timeout=3.0)
        check_outcome(run)
        check_files(world.root, before, protected=[], failed=run.code != 0)
        assert run.code == 2, run.describe()


@settings(max_examples=examples(0.1), suppress_health_check=SLOW_OK, phases=NO_SHRINK)
@given(st.data())
def test_cause_2_seeds_outside_0_to_2_63_are_refused_in_one_line(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        seed = world.draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63)).map(str), "seed")
        command = world.draw(st.sampled_from(["upscale", "kernel"]), "command")
        if command == "upscale":
            argv = ["upscale", str(world.image(min_side=8, max_side=12)), "-s", "2", "-o", str(world.out / "x.png"),
                    "--quiet", "--max-iterations", "1", "--seed", seed]
        else:
            argv = ["kernel", "gaussian", "--random", "--scale", "2", "--seed", seed, "-o", str(world.out / "k.npy")]
        run = check_run(world, argv)
        assert run.code == 2, run.describe()


@settings(max_examples=examples(0.05), suppress_health_check=SLOW_OK, phases=NO_SHRINK)
@given(st.data())
def test_cause_3_devices_are_checked_by_index(data: st.DataObject) -> None:
    import torch

    with fresh_root() as root:
        world = World(Path(root), data)
        index = world.draw(st.one_of(st.integers(torch.cuda.device_count(), 99).map(str),
                                     st.sampled_from(["x", "-1", "", "0.5"])), "index")
        run = check_run(world, ["upscale", str(world.image(min_side=8, max_side=12)), "-s", "2", "-o",
                                str(world.out / "x.png"), "--quiet", "--max-iterations", "1", "--device", f"cuda:{index}"])
        assert run.code == 2, run.describe()


@settings(max_examples=examples(0.03), suppress_health_check=SLOW_OK, deadline=None, phases=NO_SHRINK)
@given(st.data())
def test_cause_4_kernels_far_larger_than_the_image_are_refused_at_once(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        side = world.draw(st.integers(101, 301), "kernel side")
        kernel = KernelFile(".npy", encode_kernel(np.ones((side, side)), ".npy"), True).write(world.inputs)
        # a tight hard limit: before the fix this ran for many seconds; now it is refused before training
        source = world.image(min_side=12, max_side=16)
        before = snapshot(world.root)
        run = run_cli(["upscale", str(source), "-s", "2", "-o", str(world.out / "x.png"), "--quiet",
                       "--max-iterations", "1", "--kernel", str(kernel)], timeout=5.0)
        check_outcome(run)
        check_files(world.root, before, protected=[kernel], failed=run.code != 0)
        assert run.code == 2, run.describe()


def _interrupt_in_temp_creation() -> Any:
    """KeyboardInterrupt right after the atomic writer's temp file exists (before its caller holds the name)."""
    import os

    original = os.close

    def close(fd: int) -> None:
        original(fd)
        raise KeyboardInterrupt

    return mock.patch("zssr._atomic.os.close", close)


@settings(max_examples=examples(0.05), suppress_health_check=SLOW_OK, phases=NO_SHRINK)
@given(st.data())
def test_cause_5_ctrl_c_while_the_temp_file_is_created_leaves_nothing(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        argv = ["upscale", str(world.image(min_side=8, max_side=12)), "-s", "2", "-o", str(world.out / "x.png"),
                "--quiet", "--max-iterations", "1", "--preset", "fast"]
        with _interrupt_in_temp_creation():
            run = check_run(world, argv, codes=(130,))
        assert run.code == 130


@settings(max_examples=examples(0.05), suppress_health_check=SLOW_OK, phases=NO_SHRINK)
@given(st.data())
def test_cause_7_bench_refuses_bad_method_options_before_writing_anything(data: st.DataObject) -> None:
    with fresh_root() as root:
        world = World(Path(root), data)
        dataset = world.inputs / "set"
        dataset.mkdir()
        world.draw(image_specs(min_side=16, max_side=24, formats=("PNG",))).write(dataset, "a")
        method = world.draw(st.sampled_from(["zssr:preset=nope", "zssr:max_iterations=-1", "zssr:crop_size=x",
                                             "zssr:widht=3", "bicubic:gain=1"]), "method")
        run = check_run(world, ["bench", "--dataset", str(dataset), "--out", str(world.out / "b"), "--quiet",
                                "--method", method])
        assert run.code == 2, run.describe()
