"""Tests of the ``zssr`` command: each subcommand's happy path and every bad input.

The command runs in-process through ``zssr.cli.main(argv)`` on tiny synthetic
images in ``tmp_path`` (the demo uses scikit-image's astronaut), ZSSR runs are cut
to a few iterations, and one subprocess test proves the installed entry point.
Expected values come from the library functions the command wraps, so these tests
check the wiring (scales, bit depth, alpha, ICC, paths), not the algorithms,
which have their own test files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

import zssr.cli as cli
from zssr.config import PRESETS, Config, resolve_config
from zssr.errors import ConfigError
from zssr.io import read_image, to_array, to_tensor, write_image
from zssr.kernels import (
    align_kernel,
    compose_x4,
    downscale,
    gaussian_kernel,
    load_kernel,
    random_gaussian_kernel,
    save_kernel,
)
from zssr.metrics import evaluate
from zssr.resize import imresize

FAST = ["--preset", "fast", "--max-iterations", "3", "--quiet"]


# ----------------------------------------------------------------------------- helpers


def _smooth(h: int, w: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A smooth random image in [0, 1] (sum of low-frequency cosines), H×W×C float32."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    planes = []
    for _ in range(channels):
        f = rng.uniform(1, 4, size=(3, 2))
        p = rng.uniform(0, 2 * np.pi, size=3)
        planes.append(sum(np.cos(2 * np.pi * (fy * y + fx * x) + ph) for (fy, fx), ph in zip(f, p)))
    image = np.stack(planes, axis=-1)
    image = (image - image.min()) / (image.max() - image.min())
    return image.astype(np.float32)


def _png8(path: Path, h: int = 20, w: int = 24, seed: int = 0) -> Path:
    write_image(path, np.round(_smooth(h, w, seed=seed) * 255) / 255, bit_depth=8)
    return path


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _png16_rgba(path: Path, h: int = 12, w: int = 12) -> Path:
    color = np.round(_smooth(h, w, seed=1) * 65535) / 65535
    alpha = np.round(np.linspace(0.2, 1.0, h * w).reshape(h, w) * 65535) / 65535
    write_image(path, color, alpha=alpha, bit_depth=16, icc_profile=_srgb_profile())
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str | os.PathLike[str]) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def _assert_usage_error(code: int, err: str, *, contains: str = "") -> None:
    """Exit 2, exactly one stderr line starting ``zssr: error:``, no traceback."""
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("zssr: error: ")
    assert "Traceback" not in err
    assert contains.lower() in lines[0].lower()


# ----------------------------------------------------------------------------- entry point


def test_installed_console_script_lists_every_subcommand() -> None:
    """The ``zssr`` script of pyproject's [project.scripts] runs and lists each subcommand."""
    script = Path(sys.executable).parent / "zssr"
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for command in ("upscale", "resize", "metrics", "kernel", "demo"):
        assert command in done.stdout


def test_help_of_each_subcommand_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["upscale", "--help"], ["resize", "--help"], ["metrics", "--help"], ["kernel", "--help"],
                 ["kernel", "gaussian", "--help"], ["kernel", "show", "--help"], ["kernel", "compose", "--help"],
                 ["kernel", "estimate", "--help"], ["demo", "--help"]):
        code, out, _ = _run(capsys, *argv)
        assert code == 0
        assert "usage: zssr" in out


def test_bench_is_registered_from_its_two_hooks(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seen = {}
    fake = types.ModuleType("zssr.cli.bench", "Fake benchmark harness.")

    def add_bench_arguments(parser: object) -> None:
        parser.add_argument("--dataset", required=True)  # type: ignore[attr-defined]

    def run_bench(args: object) -> int:
        seen["dataset"] = args.dataset  # type: ignore[attr-defined]
        return 0

    fake.add_bench_arguments, fake.run_bench = add_bench_arguments, run_bench  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "zssr.cli.bench", fake)
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "bench" in out
    code, _, _ = _run(capsys, "bench", "--dataset", "Set5")
    assert code == 0 and seen == {"dataset": "Set5"}


def test_bench_is_absent_when_its_module_is(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "zssr.bench", None)  # makes `import zssr.bench` fail
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "bench" not in out
    code, _, err = _run(capsys, "bench")
    _assert_usage_error(code, err, contains="invalid choice")


# ----------------------------------------------------------------------------- resize


def test_resize_8bit_is_matlab_uint8_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _png8(tmp_path / "a.png")
    code, out, _ = _run(capsys, "resize", source, "--scale", "0.5", "-o", tmp_path / "b.png")
    assert code == 0 and "b.png" in out
    expected = imresize(to_tensor(read_image(source).color), 0.5, quantize=True)
    got = read_image(tmp_path / "b.png")
    assert got.bit_depth == 8
    np.testing.assert_array_equal(np.round(got.color * 255), np.round(to_array(expected) * 255))


def test_resize_folder_to_out_dir_keeps_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _png8(folder / "a.png", seed=0)
    _png8(folder / "b.png", seed=1)
    code, _, _ = _run(capsys, "resize", folder, "--scale", "0.5x0.25", "--out-dir", tmp_path / "out")
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    assert read_image(tmp_path / "out" / "b.png").color.shape == (10, 6, 3)  # 20×24 → ceil(10)×ceil(6)


def test_resize_16bit_keeps_depth_alpha_and_icc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _png16_rgba(tmp_path / "a.png", 12, 16)
    code, _, _ = _run(capsys, "resize", source, "--size", "6x8", "-o", tmp_path / "b.png")
    assert code == 0
    picture, got = read_image(source), read_image(tmp_path / "b.png")
    assert got.bit_depth == 16 and got.icc_profile == picture.icc_profile
    assert got.alpha is not None and got.alpha.shape == (6, 8)
    expected = to_array(imresize(to_tensor(picture.color), size=(6, 8)).clamp(0, 1))  # float path
    np.testing.assert_allclose(got.color, expected, atol=0.51 / 65535)


def test_resize_with_kernel_file_downscales_with_the_aligned_kernel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _png8(tmp_path / "a.png")
    k = gaussian_kernel(9, 1.2, 0.8, 0.3)
    np.save(tmp_path / "k.npy", k.numpy())
    code, _, _ = _run(capsys, "resize", source, "--scale", "0.5", "--kernel", tmp_path / "k.npy", "-o", tmp_path / "b.png")
    assert code == 0
    x = to_tensor(read_image(source).color).double()
    expected = np.floor(to_array(downscale(x, align_kernel(k, 2), 2)).astype(np.float64) * 255 + 0.5)
    got = np.round(read_image(tmp_path / "b.png").color * 255)
    assert got.shape == (10, 12, 3)
    assert np.abs(got - expected).max() <= 1  # float32 round-off may flip a half level


# ----------------------------------------------------------------------------- metrics


def test_metrics_two_files_prints_evaluate_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = _png8(tmp_path / "ref.png", seed=0)
    test = _png8(tmp_path / "test.png", seed=1)
    expected = evaluate(read_image(ref).color, read_image(test).color, scale=2)
    code, out, _ = _run(capsys, "metrics", "--reference", ref, "--test", test, "--scale", "2")
    assert code == 0
    assert f"{expected.psnr:.2f}" in out and f"{expected.ssim:.4f}" in out and "mean" in out


def test_metrics_two_folders_json_per_image_and_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for folder, offset in (("ref", 0), ("sr", 10)):
        (tmp_path / folder).mkdir()
        for i, name in enumerate(("a.png", "b.png")):
            _png8(tmp_path / folder / name, seed=i + offset)
    code, out, _ = _run(capsys, "metrics", "--reference", tmp_path / "ref", "--test", tmp_path / "sr", "--shave", "1",
                        "--rgb", "--json")
    assert code == 0
    report = json.loads(out)
    assert [row["name"] for row in report["images"]] == ["a.png", "b.png"]
    first = evaluate(read_image(tmp_path / "ref" / "a.png").color, read_image(tmp_path / "sr" / "a.png").color,
                     shave=1, channel="rgb")
    assert report["images"][0]["psnr"] == pytest.approx(first.psnr, abs=1e-9)
    assert report["mean"]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in report["images"]]))
    assert report["channel"] == "rgb" and report["shave"] == [1, 1]


def test_metrics_folder_missing_images_is_an_error_listing_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for folder in ("ref", "sr"):
        (tmp_path / folder).mkdir()
    _png8(tmp_path / "ref" / "a.png")
    _png8(tmp_path / "ref" / "b.png")
    _png8(tmp_path / "sr" / "a.png")
    code, _, err = _run(capsys, "metrics", "--reference", tmp_path / "ref", "--test", tmp_path / "sr")
    _assert_usage_error(code, err, contains="b.png")


# ----------------------------------------------------------------------------- kernel


def test_kernel_gaussian_writes_the_library_kernel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = _run(capsys, "kernel", "gaussian", "--size", "11", "--sigma", "1.5", "0.7", "--theta", "0.4",
                      "-o", tmp_path / "g.mat")
    assert code == 0
    torch.testing.assert_close(load_kernel(tmp_path / "g.mat"), gaussian_kernel(11, 1.5, 0.7, 0.4))
    code, _, _ = _run(capsys, "kernel", "gaussian", "--random", "--scale", "2", "--seed", "3", "--recipe", "div2krk",
                      "-o", tmp_path / "r.npy")
    assert code == 0
    torch.testing.assert_close(load_kernel(tmp_path / "r.npy"), random_gaussian_kernel(2, generator=3, recipe="div2krk"))


def test_kernel_show_and_compose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    k2 = gaussian_kernel(7, 1.0, 0.6, 0.2)
    save_kernel(k2, tmp_path / "k2.mat")
    code, _, _ = _run(capsys, "kernel", "show", tmp_path / "k2.mat", "-o", tmp_path / "k2.png")
    assert code == 0
    with Image.open(tmp_path / "k2.png") as picture:
        assert picture.format == "PNG"
    code, out, _ = _run(capsys, "kernel", "compose", tmp_path / "k2.mat", "-o", tmp_path / "k4.mat")
    assert code == 0 and "19×19" in out  # 3·7 − 2
    torch.testing.assert_close(load_kernel(tmp_path / "k4.mat"), compose_x4(k2))


def test_kernel_estimate_writes_kernel_and_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("zssr.kernel_estimation")
    source = _png8(tmp_path / "lr.png", 96, 96)
    code, out, _ = _run(capsys, "kernel", "estimate", source, "-s", "2", "--estimator", "kernelgan", "--iterations", "5",
                        "-o", tmp_path / "k.mat", "--device", "cpu", "--quiet")
    assert code == 0, out
    k = load_kernel(tmp_path / "k.mat")
    assert k.dim() == 2 and float(k.sum()) == pytest.approx(1.0)
    assert (tmp_path / "k.png").is_file()


# ----------------------------------------------------------------------------- upscale


def test_upscale_keeps_16bit_alpha_and_icc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _png16_rgba(tmp_path / "a.png")
    code, out, _ = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", *FAST)
    assert code == 0
    assert "b.png" in out and "24×24" in out and "3 iterations" in out
    picture, got = read_image(source), read_image(tmp_path / "b.png")
    assert got.color.shape == (24, 24, 3) and got.bit_depth == 16
    assert got.icc_profile == picture.icc_profile
    expected_alpha = imresize(torch.from_numpy(picture.alpha)[None, None], 2).clamp(0, 1)[0, 0].numpy()
    np.testing.assert_allclose(got.alpha, expected_alpha, atol=0.51 / 65535)


def test_upscale_save_curves_and_gradual_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _png8(tmp_path / "a.png", 12, 14)
    code, out, _ = _run(capsys, "upscale", source, "-s", "2", "--gradual", "2", "--out-dir", tmp_path / "out",
                        "--save-curves", "--preset", "fast", "--set", "max_iterations=3", "--quiet")
    assert code == 0
    assert "2 step(s)" in out
    assert read_image(tmp_path / "out" / "a.png").color.shape == (24, 28, 3)
    with Image.open(tmp_path / "out" / "a_curves.png") as picture:
        assert picture.format == "PNG"


def test_upscale_explicit_anisotropic_steps_and_kernel_file_picks_kernel_preset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _png8(tmp_path / "a.png", 12, 12)
    save_kernel(gaussian_kernel(7, 1.0, 1.0), tmp_path / "k.mat")
    code, out, _ = _run(capsys, "upscale", source, "-s", "1.5,2x1.5", "--kernel", tmp_path / "k.mat",
                        "-o", tmp_path / "b.png", "--max-iterations", "2", "--quiet")
    assert code == 0
    assert "preset kernel" in out and "2 step(s)" in out
    assert read_image(tmp_path / "b.png").color.shape == (24, 18, 3)


def test_upscale_kernel_auto_estimates_saves_and_uses_the_kernel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("zssr.kernel_estimation")
    source = _png8(tmp_path / "a.png", 88, 88)
    code, out, _ = _run(capsys, "upscale", source, "-s", "2", "--kernel", "auto", "--estimator", "kernelgan",
                        "--kernel-iterations", "5", "--max-iterations", "2", "-o", tmp_path / "b.png", "--device", "cpu",
                        "--quiet")
    assert code == 0
    assert "preset kernel" in out
    assert read_image(tmp_path / "b.png").color.shape == (176, 176, 3)
    assert float(load_kernel(tmp_path / "b_kernel.mat").sum()) == pytest.approx(1.0)
    assert (tmp_path / "b_kernel.png").is_file()


def test_kernel_auto_defaults_to_the_edge_estimator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default (Table 2: 57% of the gap vs KernelGAN's 45%, edgeblur_table2.md) runs without training."""
    from skimage import data

    from zssr.kernel_estimation import estimate_kernel_edges

    source = tmp_path / "a.png"
    write_image(source, data.astronaut()[:96, 160:256] / 255.0, bit_depth=8)
    code, out, _ = _run(capsys, "upscale", source, "-s", "2", "--kernel", "auto", "--max-iterations", "2",
                        "-o", tmp_path / "b.png", "--device", "cpu", "--quiet")
    assert code == 0 and "preset kernel" in out
    expected = estimate_kernel_edges(to_tensor(read_image(source).color), 2).kernel
    torch.testing.assert_close(load_kernel(tmp_path / "b_kernel.mat"), expected, rtol=1e-6, atol=1e-9)
    code, out, _ = _run(capsys, "kernel", "estimate", source, "-o", tmp_path / "k.mat", "--quiet")
    assert code == 0 and "edge-profile kernel" in out and (tmp_path / "k.png").is_file()
    torch.testing.assert_close(load_kernel(tmp_path / "k.mat"), expected, rtol=1e-6, atol=1e-9)


def test_kernel_auto_falls_back_to_the_bicubic_kernel_when_its_output_is_oversharpened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Do no harm (issue #19): an output sharper than a sampled edge is redone with the bicubic kernel."""
    from skimage import data

    import zssr.task as upscale_image

    seen: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def flag(image: torch.Tensor, lr: torch.Tensor) -> str:
        seen.append((tuple(image.shape), tuple(lr.shape)))
        return "its edges read 0.10 px"

    monkeypatch.setattr(upscale_image, "kernel_harm", flag)
    source = tmp_path / "a.png"
    write_image(source, data.astronaut()[:96, 160:256] / 255.0, bit_depth=8)
    code, out, err = _run(capsys, "upscale", source, "-s", "2", "--kernel", "auto", "--max-iterations", "2",
                          "-o", tmp_path / "b.png", "--device", "cpu", "--quiet")
    assert code == 0 and "preset ideal" in out and seen == [((1, 3, 192, 192), (1, 3, 96, 96))]
    assert "over-sharpened the output (its edges read 0.10 px)" in err and "bicubic kernel instead" in err
    assert (tmp_path / "b_kernel.mat").is_file()  # the estimate is still saved, for the record


def test_kernel_auto_on_an_image_without_edges_warns_and_uses_the_bicubic_kernel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _png8(tmp_path / "a.png", 96, 96)  # a smooth synthetic ramp: no edge to measure
    code, out, err = _run(capsys, "upscale", source, "-s", "2", "--kernel", "auto", "--max-iterations", "2",
                          "-o", tmp_path / "b.png", "--device", "cpu", "--quiet")
    assert code == 0 and "preset ideal" in out
    assert "too few edges" in err and "bicubic kernel instead" in err
    assert (tmp_path / "b.png").is_file() and not (tmp_path / "b_kernel.mat").exists()
    code, _, err = _run(capsys, "kernel", "estimate", source, "-o", tmp_path / "k.mat", "--quiet")
    _assert_usage_error(code, err, contains="too few edges")
    assert not (tmp_path / "k.mat").exists()


@pytest.mark.parametrize("flags", [("--kernel-iterations", "5"), ("--kernel-restarts", "1"), ("--width-correction",)])
def test_kernelgan_flags_with_the_edge_estimator_are_a_usage_error(
    flags: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _png8(tmp_path / "a.png", 96, 96)
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "--kernel", "auto", *flags, "-o", tmp_path / "b.png")
    _assert_usage_error(code, err, contains=flags[0])
    assert not (tmp_path / "b.png").exists() and not (tmp_path / "b_kernel.mat").exists()


def test_kernel_flags_reach_the_estimator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--kernel-restarts / --width-correction (upscale) and --restarts (kernel estimate) are passed on."""
    import zssr.kernel_estimation as est

    calls: list[dict[str, object]] = []
    real = est.estimate_kernel

    def spy(*args: object, **kwargs: object) -> est.KernelEstimate:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(est, "estimate_kernel", spy)
    source = _png8(tmp_path / "a.png", 88, 88)
    code, _, _ = _run(capsys, "upscale", source, "-s", "2", "--kernel", "auto", "--estimator", "kernelgan",
                      "--kernel-iterations", "3", "--kernel-restarts", "0", "--width-correction", "--max-iterations", "2",
                      "-o", tmp_path / "b.png", "--device", "cpu", "--quiet")
    assert code == 0
    code, _, _ = _run(capsys, "kernel", "estimate", source, "-o", tmp_path / "k.mat", "--estimator", "kernelgan",
                      "--iterations", "3", "--restarts", "1", "--device", "cpu", "--quiet")
    assert code == 0
    assert [(c["restarts"], c["width_correction"]) for c in calls] == [(0, True), (1, False)]


@pytest.mark.parametrize("argv", [("upscale", "-s", "2", "--kernel", "auto", "--estimator", "kernelgan",
                                   "--kernel-restarts", "-1", "-o", "b.png"),
                                  ("kernel", "estimate", "-o", "k.mat", "--estimator", "kernelgan", "--restarts", "-1")])
def test_negative_kernel_restarts_are_a_one_line_usage_error(
    argv: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _png8(tmp_path / "a.png", 88, 88)
    args = [a if a not in ("b.png", "k.mat") else tmp_path / a for a in argv]
    args.insert(2 if argv[0] == "kernel" else 1, source)
    code, _, err = _run(capsys, *args)
    _assert_usage_error(code, err, contains="restarts")
    assert not (tmp_path / "b.png").exists() and not (tmp_path / "k.mat").exists()


def test_every_config_field_can_be_set_from_the_command_line() -> None:
    """Each field's value, written as on the command line, parses back to itself."""

    def text(value: object) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, tuple):
            return ",".join("x".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in value)
        return str(value)

    for preset in PRESETS.values():
        for f in dataclasses.fields(Config):
            value = getattr(preset, f.name)
            assert cli.parse_override(f"{f.name}={text(value)}") == (f.name, value)
    assert cli.parse_override("gradual_pattern=((0.5, 0.5), (1, 1))") == ("gradual_pattern", ((0.5, 0.5), (1.0, 1.0)))
    assert cli.parse_override("back_projection_iters=6") == ("back_projection_iters", (6,))
    assert cli.parse_override("allow-rotation=off") == ("allow_rotation", False)
    name, value = cli.parse_override("adam_betas=0.8,0.99")
    assert resolve_config("ideal", **{name: value}).adam_betas == (0.8, 0.99)


@pytest.mark.parametrize("text", ["max_iterations", "nosuch=1", "max_iterations=abc", "max_iterations=2.5",
                                  "allow_rotation=maybe", "adam_betas=0.9", "learning_rate=nan", "gradual_pattern=(1,"])
def test_bad_set_values_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        cli.parse_override(text)


# ----------------------------------------------------------------------------- demo


def test_demo_writes_images_and_prints_both_psnrs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "demo"
    code, out, _ = _run(capsys, "demo", "--max-iterations", "5", "--out-dir", out_dir, "--quiet", "--device", "cpu")
    assert code == 0
    for name in ("lr", "bicubic", "zssr", "hr", "comparison"):
        assert (out_dir / f"{name}.png").is_file()
    assert read_image(out_dir / "hr.png").color.shape == (160, 160, 3)
    assert read_image(out_dir / "lr.png").color.shape == (80, 80, 3)
    assert out.count("Y-PSNR") == 2 and "gain" in out
    hr, bicubic = read_image(out_dir / "hr.png").color, read_image(out_dir / "bicubic.png").color
    assert f"{evaluate(hr, bicubic, scale=2).psnr:6.2f} dB" in out


# ----------------------------------------------------------------------------- bad input


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name → (argv, text the message must contain); built after the fixture files exist."""
    good, out = str(tmp / "good.png"), str(tmp / "out.png")
    return {
        "missing file": (["upscale", str(tmp / "nope.png"), "-s", "2", "-o", out], "nope.png"),
        "non-image": (["upscale", str(tmp / "notes.png"), "-s", "2", "-o", out], "notes.png"),
        "non-image in folder": (["resize", str(tmp / "mixed"), "--scale", "0.5", "--out-dir", str(tmp / "o")], "fake.png"),
        "zero scale": (["upscale", good, "-s", "0", "-o", out], "scale"),
        "negative scale": (["upscale", good, "-s", "-2", "-o", out], "scale"),
        "nan scale": (["upscale", good, "-s", "nan", "-o", out], "scale"),
        "nan step": (["upscale", good, "-s", "1.5,nan", "-o", out], "scale"),
        "resize zero scale": (["resize", good, "--scale", "0", "-o", out], "scale"),
        "resize negative scale": (["resize", good, "--scale", "0.5x-1", "-o", out], "scale"),
        "resize nan scale": (["resize", good, "--scale", "nan", "-o", out], "scale"),
        "resize bad size": (["resize", good, "--size", "0x4", "-o", out], "size"),
        "kernel with upscale": (["resize", good, "--scale", "2", "--kernel", str(tmp / "k.npy"), "-o", out], "kernel"),
        "empty kernel": (["upscale", good, "-s", "2", "--kernel", str(tmp / "empty.txt"), "-o", out], "empty.txt"),
        "empty npy kernel": (["resize", good, "--scale", "0.5", "--kernel", str(tmp / "empty.npy"), "-o", out], "empty.npy"),
        "nan kernel": (["upscale", good, "-s", "2", "--kernel", str(tmp / "nan.txt"), "-o", out], "nan.txt"),
        "zero-sum kernel": (["upscale", good, "-s", "2", "--kernel", str(tmp / "zero.csv"), "-o", out], "zero.csv"),
        "unknown set field": (["upscale", good, "-s", "2", "-o", out, "--set", "nosuch=1"], "nosuch"),
        "bad set value": (["upscale", good, "-s", "2", "-o", out, "--set", "max_iterations=lots"], "max_iterations"),
        "set out of range": (["upscale", good, "-s", "2", "-o", out, "--set", "crop_size=2"], "crop_size"),
        "set without =": (["upscale", good, "-s", "2", "-o", out, "--set", "max_iterations"], "FIELD=VALUE"),
        "unknown preset": (["upscale", good, "-s", "2", "-o", out, "--preset", "sharpest"], "sharpest"),
        "output is input": (["upscale", good, "-s", "2", "-o", good], "input"),
        "out-dir is input folder": (["resize", str(tmp / "imgs"), "--scale", "0.5", "--out-dir", str(tmp / "imgs")], "input"),
        "empty folder": (["upscale", str(tmp / "empty"), "-s", "2", "--out-dir", str(tmp / "o")], "no images"),
        "-o with several inputs": (["upscale", str(tmp / "imgs"), "-s", "2", "-o", out], "--out-dir"),
        "missing output folder": (["upscale", good, "-s", "2", "-o", str(tmp / "no" / "x.png")], "does not exist"),
        "bad output suffix": (["upscale", good, "-s", "2", "-o", str(tmp / "x.gif")], ".gif"),
        "gradual with steps": (["upscale", good, "-s", "1.5,2", "--gradual", "2", "-o", out], "gradual"),
        "bad device": (["upscale", good, "-s", "2", "-o", out, "--device", "tpu"], "device"),
        "image too small": (["upscale", str(tmp / "tiny.png"), "-s", "2", "-o", out, *FAST], "at least"),
        "metrics file vs folder": (["metrics", "--reference", good, "--test", str(tmp / "imgs")], "both"),
        "metrics size mismatch": (["metrics", "--reference", good, "--test", str(tmp / "tiny.png")], "reference"),
        "kernel show to jpg": (["kernel", "show", str(tmp / "k.npy"), "-o", str(tmp / "k.jpg")], ".png"),
        "kernel compose onto input": (["kernel", "compose", str(tmp / "k.npy"), "-o", str(tmp / "k.npy")], "input"),
        "gaussian nan sigma": (["kernel", "gaussian", "--size", "5", "--sigma", "nan", "1", "-o", str(tmp / "g.mat")], "sigma"),
        "gaussian without sigma": (["kernel", "gaussian", "-o", str(tmp / "g.mat")], "sigma"),
        "no subcommand": ([], "required"),
    }


@pytest.fixture
def bad_input_files(tmp_path: Path) -> Path:
    _png8(tmp_path / "good.png")
    _png8(tmp_path / "tiny.png", 4, 4)
    (tmp_path / "notes.png").write_text("not an image\n")
    (tmp_path / "mixed").mkdir()
    _png8(tmp_path / "mixed" / "a.png")
    (tmp_path / "mixed" / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (tmp_path / "imgs").mkdir()
    _png8(tmp_path / "imgs" / "a.png", seed=1)
    _png8(tmp_path / "imgs" / "b.png", seed=2)
    (tmp_path / "empty").mkdir()
    np.save(tmp_path / "k.npy", gaussian_kernel(5, 1.0, 1.0).numpy())
    np.save(tmp_path / "empty.npy", np.zeros((0, 0)))
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "nan.txt").write_text("0.2 nan\n0.3 0.5\n")
    (tmp_path / "zero.csv").write_text("1,-1\n-1,1\n")
    return tmp_path


@pytest.mark.parametrize("case", list(_bad_inputs(Path("/x"))))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    case: str, bad_input_files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, contains = _bad_inputs(bad_input_files)[case]
    before = _tree(bad_input_files)
    mtimes = {p: p.stat().st_mtime_ns for p in before if p.is_file()}
    code = cli.main(argv)
    _assert_usage_error(code, capsys.readouterr().err, contains=contains)
    assert _tree(bad_input_files) == before  # no output file or folder, no temp file left
    assert {p: p.stat().st_mtime_ns for p in before if p.is_file()} == mtimes  # inputs untouched


def test_cuda_asked_but_unavailable_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available here")
    source = _png8(tmp_path / "a.png")
    before = _tree(tmp_path)
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", "--device", "cuda")
    _assert_usage_error(code, err, contains="cuda")
    assert _tree(tmp_path) == before


def test_kernel_estimate_on_too_small_image_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("zssr.kernel_estimation")
    source = _png8(tmp_path / "a.png", 20, 20)
    before = _tree(tmp_path)
    code, _, err = _run(capsys, "kernel", "estimate", source, "-o", tmp_path / "k.mat", "--quiet")
    _assert_usage_error(code, err, contains="84")
    assert _tree(tmp_path) == before


def test_kernel_auto_folder_reports_a_too_small_image_up_front_and_runs_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The size check runs for every input before the first training; a folder run goes on without the bad one."""
    pytest.importorskip("zssr.kernel_estimation")
    folder = tmp_path / "in"
    folder.mkdir()
    _png8(folder / "a.png", 88, 88)
    _png8(folder / "b.png", 60, 88)
    code, out, err = _run(capsys, "upscale", folder, "-s", "2", "--kernel", "auto",
                          "--max-iterations", "2", "--out-dir", tmp_path / "out", "--quiet")
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"zssr: failed: {folder / 'b.png'}: ") and "84" in lines[0] and "kernel auto" in lines[0]
    assert lines[-1].startswith("zssr: error: 1 of 2 images failed: ") and "b.png" in lines[-1]
    assert (tmp_path / "out" / "a.png").is_file() and not (tmp_path / "out" / "b.png").exists()
    assert "a.png" in out


def test_ctrl_c_exits_130_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    source = _png8(tmp_path / "a.png")

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("zssr.cli.inputs.read_image", interrupted)
    code, _, err = _run(capsys, "resize", source, "--scale", "0.5", "-o", tmp_path / "b.png")
    assert code == 130
    assert err.strip() == "zssr: interrupted"
    assert not (tmp_path / "b.png").exists()


@pytest.mark.parametrize(
    ("argv", "contains"),
    [
        (["kernel", "gaussian", "--size", "100000", "--sigma", "1", "1"], "at most 4097"),
        (["kernel", "gaussian", "--sigma", "1e300", "1"], "-tap kernel"),
        (["kernel", "gaussian", "--random", "--scale", "1e5"], "at most 256"),
        (["resize", "IN", "--scale", "1e-9"], "below one pixel"),
        (["upscale", "IN", "-s", "2", "--set", "learning_rate=1e300", *FAST], "learning_rate"),
        (["upscale", "IN", "-s", "2", "--set", "width=100000000", *FAST], "weights"),
    ],
)
def test_values_the_fuzzer_found_crashing_are_one_line_errors_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], contains: str,
) -> None:
    """Each was a traceback (MemoryError, ValueError, RuntimeError) or a minute-long allocation."""
    source = _png8(tmp_path / "in.png", 12, 12)
    argv = [str(source) if a == "IN" else a for a in argv]
    code, _, err = _run(capsys, *argv, "-o", tmp_path / ("out.png" if argv[0] != "kernel" else "k.npy"))
    _assert_usage_error(code, err, contains=contains)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]
