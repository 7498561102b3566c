"""Tests for zssr.kernels: validation, files, alignment, downscaling, generators."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.ndimage
import torch

from zssr.errors import ImageWriteError, KernelError, ScaleError, ShapeError
from zssr.kernels import (
    align_kernel,
    bicubic_kernel,
    center_of_mass,
    compose,
    compose_x4,
    downscale,
    gaussian_kernel,
    kernel_picture,
    load_kernel,
    random_gaussian_kernel,
    save_kernel,
    validate_kernel,
)
from zssr.resize import imresize


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """skimage's astronaut (a real photo) as 1×3×288×288 float64 in [0, 1].

    Cropped to 288 = 2⁵·3², divisible by 2, 3 and 4, so the authors' subsampling
    grid round(linspace(0, H − sf, H/sf)) is exactly 0, sf, 2sf, … as in imresize.
    """
    from skimage import data

    img = torch.from_numpy(data.astronaut().astype(np.float64) / 255.0).permute(2, 0, 1)[None]
    return img[..., 100:388, 100:388].contiguous()


def _authors_numeric_kernel(im: np.ndarray, kernel: np.ndarray, sf: tuple[float, float]) -> np.ndarray:
    """Reference: the authors' numeric_kernel recipe (docs/authors_code.md §6), H×W×C numpy.

    scipy.ndimage.correlate per channel with mode 'reflect' (half-sample symmetric),
    then rows round(linspace(0, H − sf_y, ceil(H/sf_y))) and columns likewise.
    """
    h, w = im.shape[:2]
    out = (math.ceil(h / sf[0]), math.ceil(w / sf[1]))
    blurred = np.stack([scipy.ndimage.correlate(im[:, :, c], kernel, mode="reflect") for c in range(im.shape[2])], 2)
    rows = np.round(np.linspace(0, h - sf[0], out[0])).astype(int)
    cols = np.round(np.linspace(0, w - sf[1], out[1])).astype(int)
    return blurred[rows[:, None], cols, :]


# --------------------------------------------------------------------------- validation


def test_validate_kernel_normalises_numpy_and_torch_to_float64_sum_one() -> None:
    raw = np.arange(1.0, 10.0).reshape(3, 3)
    for given in (raw, torch.from_numpy(raw).float(), raw.astype(np.int32)):
        k = validate_kernel(given)
        assert k.dtype == torch.float64 and k.shape == (3, 3)
        assert float(k.sum()) == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(k.numpy(), raw / raw.sum(), rtol=1e-6)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((0, 3)), "non-empty"),
        (np.array([[1.0, np.nan], [1.0, 1.0]]), "finite"),
        (np.array([[1.0, np.inf], [1.0, 1.0]]), "finite"),
        (np.ones((3, 3, 3)), "2-D"),
        (np.ones(5), "2-D"),
        (-np.ones((3, 3)), "sum"),
        (np.array([[1.0, -1.0]]), "sum"),
        (np.array([["a", "b"]]), "real numbers"),
    ],
)
def test_validate_kernel_rejects_malformed_kernels_naming_them(bad: np.ndarray, match: str) -> None:
    with pytest.raises(KernelError, match=match) as info:
        validate_kernel(bad, name="my_kernel")
    assert "my_kernel" in str(info.value)


def test_center_of_mass_matches_scipy() -> None:
    k = np.random.default_rng(0).random((7, 10))
    assert center_of_mass(k) == pytest.approx(scipy.ndimage.center_of_mass(k), abs=1e-12)


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("suffix", [".mat", ".npy", ".txt", ".csv"])
def test_save_then_load_round_trips_to_the_last_bit(tmp_path: Path, suffix: str) -> None:
    k = validate_kernel(np.random.default_rng(1).random((7, 5)))
    path = tmp_path / f"k{suffix}"
    save_kernel(k, path)
    # Values are written exactly (17 digits for text); loading renormalises by a
    # sum that is 1 ± 1 ulp, hence the 1e-15 tolerance.
    torch.testing.assert_close(load_kernel(path), k, rtol=1e-15, atol=0)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # atomic: no temp file left


def test_saved_mat_uses_the_authors_variable_name(tmp_path: Path) -> None:
    save_kernel(np.ones((3, 3)), tmp_path / "img_0.mat")
    assert scipy.io.loadmat(str(tmp_path / "img_0.mat"))["Kernel"].shape == (3, 3)


def test_load_kernel_reads_comma_and_whitespace_text(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("1 2\n3 4\n")
    (tmp_path / "b.csv").write_text("1,2\n3,4\n")
    expected = np.array([[1, 2], [3, 4]]) / 10.0
    for name in ("a.txt", "b.csv"):
        np.testing.assert_allclose(load_kernel(tmp_path / name).numpy(), expected, rtol=1e-15)


def test_save_kernel_png_writes_a_picture(tmp_path: Path) -> None:
    save_kernel(gaussian_kernel(9, 1.0, 2.0, 0.3), tmp_path / "k.png")
    kernel_picture(gaussian_kernel(9, 1.0, 2.0, 0.3), tmp_path / "t.png", title="a title")
    for name in ("k.png", "t.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.png", "t.png"]


def test_save_kernel_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError, match="k.jpg"):
        save_kernel(np.ones((3, 3)), tmp_path / "k.jpg")


def test_load_kernel_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(KernelError, match="nope_0.mat"):
        load_kernel(tmp_path / "nope_0.mat")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not a .npy file"),  # was EOFError, a traceback in the CLI (found by the fuzzer)
        (b"\x00\x01garbage", "not a .npy file"),  # was "…contains pickled data…"
        (b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (8, 3), }\x8a" + b" " * 60,
         "could not be read as .npy"),  # a corrupt header: was tokenize.TokenError
        (b"\x93NUMPY\x01\x00", "could not be read as .npy"),  # a truncated header
    ],
)
def test_load_kernel_refuses_empty_garbage_and_corrupt_npy_files_with_a_kernel_error(
    tmp_path: Path, content: bytes, match: str,
) -> None:
    path = tmp_path / "k.npy"
    path.write_bytes(content)
    with pytest.raises(KernelError, match=match):
        load_kernel(path)


def test_load_kernel_mat_without_a_2d_variable_lists_its_variables(tmp_path: Path) -> None:
    path = tmp_path / "bad.mat"
    scipy.io.savemat(str(path), {"cube": np.ones((2, 2, 2)), "label": "blur"})
    with pytest.raises(KernelError, match="cube.*label|label.*cube"):
        load_kernel(path)
    scipy.io.savemat(str(path), {"a": np.ones((3, 3)), "b": np.ones((5, 5))})  # ambiguous
    with pytest.raises(KernelError, match="a \\(3, 3\\), b \\(5, 5\\)"):
        load_kernel(path)


def test_load_kernel_mat_accepts_a_single_other_2d_variable(tmp_path: Path) -> None:
    # Before Oct 2018 the authors' example kernel was stored as `ker` (docs/authors_code.md §6).
    path = tmp_path / "old.mat"
    scipy.io.savemat(str(path), {"ker": np.ones((3, 3)), "note": np.ones(4)})
    assert float(load_kernel(path).sum()) == pytest.approx(1.0)


def test_load_kernel_unreadable_file_raises_kernel_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.mat"
    path.write_bytes(b"not a mat file at all")
    with pytest.raises(KernelError, match="junk.mat"):
        load_kernel(path)


@pytest.mark.parametrize(
    ("relpath", "shift"),
    [
        # Shifts quoted in docs/authors_code.md §6 (target 4.5 for a 9×9 kernel at ×2).
        ("kernel_example/BSD100_100_lr_rand_ker_c_X2_0.mat", (0.017, 0.036)),
        ("real_example/charlie_0.mat", (0.503, 0.509)),
    ],
)
def test_authors_kernels_load_normalised_and_align_to_target(data_dir: Path, relpath: str, shift: tuple) -> None:
    k = load_kernel(data_dir / "zssr_test_data" / relpath)
    assert k.shape == (9, 9) and float(k.sum()) == pytest.approx(1.0, abs=1e-12)
    com = np.array(center_of_mass(k))
    np.testing.assert_allclose(4.5 - com, shift, atol=1e-3)
    aligned = align_kernel(k, 2)
    assert aligned.shape == (13, 13)  # docs/authors_code.md §6: both become 13×13
    np.testing.assert_allclose(center_of_mass(aligned), (6.5, 6.5), atol=1e-3)


# --------------------------------------------------------------------------- alignment


@pytest.mark.parametrize("size", [8, 9, 12, 13])
@pytest.mark.parametrize("factor", [2, 3, 1.5, (1, 2)])
def test_align_kernel_puts_centre_of_mass_at_port_rule(size: int, factor: float | tuple) -> None:
    """Target ⌊k/2⌋ + (sf − 1)/2 per axis on the original size (docs/authors_code.md §6), moved by the padding."""
    k = gaussian_kernel(size, 1.3, 0.9, 0.4)
    sf = factor if isinstance(factor, tuple) else (factor, factor)
    aligned = align_kernel(k, factor)
    pad = (aligned.shape[0] - size) // 2
    assert aligned.shape[0] == aligned.shape[1] == size + 2 * pad
    target = [size // 2 + (f - 1) / 2 + pad for f in sf]
    np.testing.assert_allclose(center_of_mass(aligned), target, atol=1e-3)
    assert float(aligned.sum()) == pytest.approx(1.0, abs=1e-12)


def test_align_kernel_integer_shift_is_exact() -> None:
    k = bicubic_kernel(2)  # centre of mass 3.5, target 4 + 0.5: a whole-pixel shift
    aligned = align_kernel(k, 2)
    assert aligned.shape == (12, 12)
    np.testing.assert_allclose(aligned.numpy()[3:11, 3:11], k.numpy(), atol=1e-14)


def test_align_kernel_rejects_bad_factor() -> None:
    for bad in (0, -2, 0.5, math.nan, math.inf, (2, 3, 4)):
        with pytest.raises(ScaleError, match="factor"):
            align_kernel(np.ones((3, 3)), bad)


# --------------------------------------------------------------------------- bicubic reference


@pytest.mark.parametrize("odd", [False, True], ids=["natural-size", "padded-to-other-parity"])
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_aligned_bicubic_kernel_reproduces_imresize(photo: torch.Tensor, factor: int, odd: bool) -> None:
    """downscale(x, align(bicubic_kernel(f)), f) == imresize(x, 1/f) on a real photo, whole image.

    Notes §6 report > 78 dB for this check with the port rule; all shifts here are
    whole pixels, so we see ~310 dB (float64 round-off).
    """
    natural = bicubic_kernel(factor)
    kernel = bicubic_kernel(factor, size=natural.shape[0] + 1) if odd else natural
    ours = downscale(photo, align_kernel(kernel, factor), factor)
    reference = imresize(photo, 1.0 / factor)
    assert ours.shape == reference.shape
    assert _psnr(ours, reference) > 78.0


def test_bicubic_kernel_sizes_and_taps() -> None:
    # imresize by 1/2: offsets −3.5 … 3.5 (8 taps); by 1/3: −5 … 5 (11); by 1/4: 16.
    assert [bicubic_kernel(f).shape[0] for f in (1, 2, 3, 4)] == [3, 8, 11, 16]
    k = bicubic_kernel((2, 3))
    assert k.shape == (8, 11) and float(k.sum()) == pytest.approx(1.0, abs=1e-15)
    row = bicubic_kernel(2).sum(1).numpy()
    cubic_half = np.array([-0.0234375, -0.0703125, 0.2265625, 0.8671875])  # Keys(a=−0.5) at 1.75, 1.25, .75, .25
    np.testing.assert_allclose(row, np.r_[cubic_half, cubic_half[::-1]] / (2 * cubic_half.sum()), rtol=1e-12)
    with pytest.raises(ScaleError):
        bicubic_kernel(1.5)
    with pytest.raises(KernelError):
        bicubic_kernel(2, size=5)


# --------------------------------------------------------------------------- downscale


@pytest.mark.parametrize(
    ("h", "w", "kh", "kw", "factor"),
    [
        (16, 20, 8, 8, 2),  # regular grid, even kernel
        (17, 23, 9, 9, 2),  # irregular grid (sizes not divisible)
        (20, 21, 13, 12, 1.5),  # non-integer factor
        (12, 12, 5, 6, (1, 2)),  # anisotropic
        (3, 4, 9, 9, 2),  # kernel larger than the image: repeated mirroring
        (2, 2, 13, 13, 3),
    ],
)
def test_downscale_matches_authors_scipy_pipeline(h: int, w: int, kh: int, kw: int, factor: float | tuple) -> None:
    rng = np.random.default_rng(h * w + kh)
    im, k = rng.random((h, w, 3)), rng.random((kh, kw))
    sf = factor if isinstance(factor, tuple) else (factor, factor)
    expected = _authors_numeric_kernel(im, k, sf)
    got = downscale(torch.from_numpy(im).permute(2, 0, 1)[None], torch.from_numpy(k), factor)
    np.testing.assert_allclose(got[0].permute(1, 2, 0).numpy(), expected, atol=1e-13)


def test_downscale_of_constant_image_is_constant() -> None:
    x = torch.full((2, 3, 19, 26), 0.37, dtype=torch.float64)
    k = align_kernel(random_gaussian_kernel(2, generator=3), 2)
    y = downscale(x, k, 2)
    torch.testing.assert_close(y, torch.full_like(y, 0.37), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("factor", "size", "expected"),
    [(1.5, None, (22, 27)), ((1, 2), None, (32, 20)), (2, None, (16, 20)), (3, (5, 7), (5, 7)), (1, None, (32, 40))],
)
def test_downscale_output_size_is_ceil_of_size_over_factor(factor: float | tuple, size: tuple | None, expected: tuple) -> None:
    x = torch.rand(1, 2, 32, 40)
    y = downscale(x, align_kernel(gaussian_kernel(7, 1.0, 1.0), factor), factor, size=size)
    assert tuple(y.shape) == (1, 2, *expected)
    assert y.dtype == torch.float32


def test_downscale_with_delta_kernel_at_factor_one_is_identity() -> None:
    x = torch.rand(1, 3, 9, 11, dtype=torch.float64)
    assert torch.equal(downscale(x, torch.ones(1, 1), 1), x)


def test_downscale_rejects_bad_input() -> None:
    k = np.ones((3, 3)) / 9
    x = torch.rand(1, 1, 8, 8)
    for bad in (0, -1, math.nan, math.inf, 0.5):
        with pytest.raises(ScaleError, match="factor"):
            downscale(x, k, bad)
    with pytest.raises(ShapeError):
        downscale(torch.rand(8, 8), k, 2)
    with pytest.raises(ShapeError):
        downscale(torch.zeros(1, 1, 8, 8, dtype=torch.int64), k, 2)
    with pytest.raises(ShapeError):
        downscale(x, np.ones(3), 2)
    with pytest.raises(ScaleError):
        downscale(x, k, 2, size=(0, 4))


@pytest.mark.parametrize("h", [8, 7], ids=["strided-path", "gather-path"])
def test_downscale_is_differentiable(h: int) -> None:
    x = torch.rand(1, 2, h, 5, dtype=torch.float64, requires_grad=True)
    k = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: downscale(a, b, 2), (x, k))


def test_downscale_on_cuda_matches_cpu(cuda_device: torch.device) -> None:
    x = torch.rand(2, 3, 40, 37)
    k = align_kernel(random_gaussian_kernel(2, generator=0), 2)
    for factor in (2, 1.5):
        gpu = downscale(x.to(cuda_device), k, factor)
        assert gpu.device.type == "cuda" and gpu.dtype == torch.float32
        torch.testing.assert_close(gpu.cpu(), downscale(x, k, factor), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- gaussians


def test_gaussian_kernel_sums_to_one_and_is_centred() -> None:
    for size in (11, 12, (9, 14)):
        k = gaussian_kernel(size, 1.5, 2.5, 0.7)
        assert float(k.sum()) == pytest.approx(1.0, abs=1e-14)
        np.testing.assert_allclose(center_of_mass(k), [(n - 1) / 2 for n in k.shape], atol=1e-12)


def test_gaussian_kernel_is_the_same_under_theta_plus_pi() -> None:
    torch.testing.assert_close(gaussian_kernel(13, 1.0, 3.0, 0.4), gaussian_kernel(13, 1.0, 3.0, 0.4 + math.pi))


def test_gaussian_kernel_rotation_convention() -> None:
    # θ = π/2 swaps the axes; θ = π/4 with σ_x > σ_y lies along the bottom-left/top-right diagonal.
    torch.testing.assert_close(gaussian_kernel(11, 1.0, 3.0, math.pi / 2), gaussian_kernel(11, 3.0, 1.0, 0.0))
    k = gaussian_kernel(11, 0.8, 3.0, math.pi / 4)
    assert float(k[2, 8]) > 100 * float(k[2, 2])
    with pytest.raises(KernelError, match="sigma_x"):
        gaussian_kernel(11, 1.0, 0.0)
    with pytest.raises(KernelError, match="size"):
        gaussian_kernel(0, 1.0, 1.0)


@pytest.mark.parametrize(("recipe", "factor", "side"), [("zssr", 2, 13), ("zssr", 4, 25), ("zssr", 1.5, 11), ("div2krk", 2, 11), ("div2krk", 4, 31)])
def test_random_gaussian_kernel_is_seeded_and_normalised(recipe: str, factor: float, side: int) -> None:
    a = random_gaussian_kernel(factor, generator=7, recipe=recipe)
    assert a.shape == (side, side) and float(a.sum()) == pytest.approx(1.0, abs=1e-12)
    assert torch.equal(a, random_gaussian_kernel(factor, generator=torch.Generator().manual_seed(7), recipe=recipe))
    assert not torch.equal(a, random_gaussian_kernel(factor, generator=8, recipe=recipe))


def test_random_gaussian_kernel_div2krk_x4_is_composition_of_its_x2_draw() -> None:
    k2 = random_gaussian_kernel(2, generator=5, recipe="div2krk")
    torch.testing.assert_close(random_gaussian_kernel(4, generator=5, recipe="div2krk"), compose_x4(k2))


def test_random_gaussian_kernel_rejects_bad_options() -> None:
    with pytest.raises(ScaleError):
        random_gaussian_kernel(3, generator=0, recipe="div2krk")
    with pytest.raises(KernelError, match="recipe"):
        random_gaussian_kernel(2, generator=0, recipe="nope")  # type: ignore[arg-type]
    with pytest.raises(KernelError, match="generator"):
        random_gaussian_kernel(2, generator="seed")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- composition


def test_composed_kernel_equals_two_successive_downscales(photo: torch.Tensor) -> None:
    ka = align_kernel(random_gaussian_kernel(2, generator=1), 2)
    kb = align_kernel(random_gaussian_kernel(2, generator=2, recipe="div2krk"), 2)
    twice = downscale(downscale(photo, ka, 2), kb, 2)
    once = downscale(photo, compose(ka, kb, 2), 4)
    border = 10  # LR pixels touched by the intermediate boundary handling
    assert _psnr(twice[..., border:-border, border:-border], once[..., border:-border, border:-border]) > 200.0


def test_compose_of_aligned_kernels_is_aligned_for_the_product_factor() -> None:
    ka = align_kernel(gaussian_kernel(11, 1.2, 2.0, 0.3), 2)
    kb = align_kernel(gaussian_kernel(9, 0.8, 1.5, 1.1), 3)
    k = compose(ka, kb, 2)
    expected = [n // 2 + (6 - 1) / 2 for n in k.shape]
    np.testing.assert_allclose(center_of_mass(k), expected, atol=1e-9)


def test_compose_x4_support_and_kernelgan_crop() -> None:
    k2 = gaussian_kernel(13, 1.0, 1.6, 0.2)
    assert compose_x4(random_gaussian_kernel(2, generator=0, recipe="div2krk")).shape == (31, 31)  # DIV2KRK
    full = compose_x4(k2)
    cropped = compose_x4(k2, size=25)  # KernelGAN: 37 → 25
    assert full.shape == (37, 37) and cropped.shape == (25, 25)
    assert float(cropped.sum()) == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(center_of_mass(cropped), (12.0, 12.0), atol=1e-9)
    with pytest.raises(KernelError, match="parity"):
        compose_x4(k2, size=24)
    with pytest.raises(ScaleError):
        compose(k2, k2, 1.5)


def test_kernels_wider_than_max_kernel_side_are_refused_before_allocating() -> None:
    """Found by the fuzzer: ``zssr kernel gaussian --size 100000`` (or ``--sigma 1e5``, ``--random --scale 1e5``)
    asked numpy for 80 GB to 3 TB (a MemoryError traceback)."""
    from zssr.kernels import MAX_KERNEL_SIDE

    with pytest.raises(KernelError, match=f"at most {MAX_KERNEL_SIDE}"):
        gaussian_kernel(100_000, 1.0, 1.0)
    with pytest.raises(ScaleError, match="at most 256"):
        random_gaussian_kernel(1e5, generator=0)
    assert gaussian_kernel(MAX_KERNEL_SIDE, 1.0, 1.0).shape == (MAX_KERNEL_SIDE, MAX_KERNEL_SIDE)


def test_a_mat_file_that_crashes_the_reader_is_a_kernel_error_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the long fuzz run (benchmarks/results/fuzz_long.md): scipy's loadmat segfaulted on a damaged
    .mat file, taking the whole process with it. The reader runs in a child; here the child crashes on purpose."""
    import zssr.kernels.files as files

    path = tmp_path / "k.mat"
    scipy.io.savemat(path, {"Kernel": np.ones((5, 5))})
    assert load_kernel(path).shape == (5, 5)
    monkeypatch.setattr(files, "_MAT_READER", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    with pytest.raises(KernelError, match=r"could not be read as \.mat: the reader crashed \(signal 11\)"):
        load_kernel(path)


def test_taps_whose_sum_overflows_are_one_kernel_error_without_a_warning() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(KernelError, match="sum overflows"):
            validate_kernel(np.full((3, 3), 1e308))
