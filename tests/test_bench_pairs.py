"""Given LR/HR pairs with true kernels (the DIV2KRK layout, issue #28): the bench reads them as they are."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image
from skimage import data as skdata

from zssr.bench import prepare_inputs, resolve_dataset, run_benchmark
from zssr.errors import ConfigError, ShapeError
from zssr.io import read_image, to_array, to_tensor
from zssr.kernels import align_kernel, downscale, gaussian_kernel, load_kernel

TINY_ZSSR = "preset=fast,max_iterations=3,crop_size=32"


def _pairs_folder(root: Path, *, ids: tuple[int, ...] = (1, 2, 10), without_hr: tuple[int, ...] = (2,)) -> Path:
    """A DIV2KRK-like folder: gt/im_N.png (not for ``without_hr``), RGBA lr_x2/im_N.png, gt_k_x2/kernel_N.mat."""
    folder = root / "Toy"
    for sub in ("gt", "lr_x2", "gt_k_x2"):
        (folder / sub).mkdir(parents=True)
    photo = skdata.astronaut()
    for i in ids:
        hr = photo[20 * i:20 * i + 96, 30 * i:30 * i + 112].astype(np.float64) / 255.0
        kernel = gaussian_kernel(11, 0.6 + 0.1 * i, 1.2)
        lr = to_array(downscale(to_tensor(hr), align_kernel(kernel, 2), 2))
        rgba = np.dstack([np.round(np.clip(lr, 0, 1) * 255), np.full(lr.shape[:2], 255.0)]).astype(np.uint8)
        Image.fromarray(rgba, "RGBA").save(folder / "lr_x2" / f"im_{i}.png")
        if i not in without_hr:
            Image.fromarray((hr * 255).round().astype(np.uint8)).save(folder / "gt" / f"im_{i}.png")
        scipy.io.savemat(folder / "gt_k_x2" / f"kernel_{i}.mat", {"Kernel": kernel.numpy()})
    return folder


def test_a_folder_in_the_div2krk_layout_is_a_data_set_of_given_pairs(tmp_path: Path) -> None:
    folder = _pairs_folder(tmp_path)
    source = resolve_dataset(folder)
    assert source.pairs_dir == folder.resolve() and source.name == "Toy"
    condition, items = prepare_inputs(source, scale=2, degradation="given", cache_root=tmp_path / "cache")
    # ids with ground truth only, in numeric (not text) order; each with its own true kernel
    assert [i.name for i in items] == ["im_1", "im_10"]
    assert condition.key == "Toy_x2_given-pairs_seed0"
    for item in items:
        ident = item.name.split("_")[1]
        assert item.kernel is not None and item.kernel.name == f"kernel_{ident}.mat"
        np.testing.assert_array_equal(load_kernel(item.kernel).numpy(),
                                      load_kernel(folder / "gt_k_x2" / f"kernel_{ident}.mat").numpy())
        lr = read_image(item.lr)
        assert lr.alpha is None and lr.color.shape == (48, 56, 3)  # the opaque alpha is dropped
        original = np.asarray(Image.open(folder / "lr_x2" / f"{item.name}.png"))[..., :3] / 255.0
        np.testing.assert_allclose(lr.color, original, atol=1e-6)  # pixels as given, not remade
        assert read_image(item.hr).color.shape == (96, 112, 3)


def test_given_pairs_need_degradation_given_and_given_needs_pairs(tmp_path: Path) -> None:
    pairs = resolve_dataset(_pairs_folder(tmp_path))
    with pytest.raises(ConfigError, match="use degradation 'given'"):
        prepare_inputs(pairs, scale=2, degradation="bicubic", cache_root=tmp_path / "c")
    hr_only = tmp_path / "hr_only"
    hr_only.mkdir()
    Image.fromarray(skdata.astronaut()[:96, :96]).save(hr_only / "a.png")
    with pytest.raises(ConfigError, match="given LR/HR pairs"):
        prepare_inputs(resolve_dataset(hr_only), scale=2, degradation="given", cache_root=tmp_path / "c")
    with pytest.raises(ConfigError, match="no ×4 LR folder"):
        prepare_inputs(pairs, scale=4, degradation="given", cache_root=tmp_path / "c")


def test_an_hr_that_is_not_scale_times_its_lr_is_refused_before_any_work(tmp_path: Path) -> None:
    folder = _pairs_folder(tmp_path, ids=(1,), without_hr=())
    Image.fromarray(skdata.astronaut()[:90, :112]).save(folder / "gt" / "im_1.png")
    with pytest.raises(ShapeError, match="not ×2 its LR"):
        prepare_inputs(resolve_dataset(folder), scale=2, degradation="given", cache_root=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_bench_runs_bicubic_and_true_kernel_zssr_on_given_pairs(tmp_path: Path) -> None:
    folder = _pairs_folder(tmp_path, ids=(1,), without_hr=())
    run_benchmark([folder], out=tmp_path / "out", degradations=["given"], device="cpu",
                           methods=["bicubic", f"zssr+true-kernel:{TINY_ZSSR}"])
    with (tmp_path / "out" / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and rows[0]["method"] == "bicubic" and rows[1]["method"].startswith("zssr+true-kernel:")
    assert all(np.isfinite(float(r["psnr"])) and float(r["psnr"]) > 20 for r in rows)
    assert "Given LR/HR pairs" in (tmp_path / "out" / "table.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["gaussian-noise", "speckle-noise", "jpeg-file", "jpeg-png"])
def test_given_plus_a_kind_puts_that_kind_on_the_given_lr_and_keeps_the_true_kernel(tmp_path: Path, kind: str) -> None:
    # issue #28 item 4: blur (the data set's own LR) and noise or JPEG together
    folder = _pairs_folder(tmp_path, ids=(1,), without_hr=())
    source = resolve_dataset(folder)
    _, (plain,) = prepare_inputs(source, scale=2, degradation="given", cache_root=tmp_path / "c")
    condition, (item,) = prepare_inputs(source, scale=2, degradation=f"given+{kind}", cache_root=tmp_path / "c",
                                        data_seed=3, jpeg_quality=60)
    assert condition.variant == ("pairs-q60" if "jpeg" in kind else "pairs") and condition.key != "Toy_x2_given-pairs_seed0"
    assert item.degradation["kind"] == kind and item.kernel is not None and item.kernel.name == "kernel_1.mat"
    assert (item.lr.suffix == ".jpg") == (kind == "jpeg-file")
    clean, degraded = read_image(plain.lr).color, read_image(item.lr).color
    assert degraded.shape == clean.shape
    change = np.abs(degraded - clean).mean()
    assert 0.5 / 255 < change < 20 / 255  # the kind is on top of the given pixels, not a remade LR


def test_given_plus_a_kind_needs_given_pairs_and_allows_true_kernel_methods(tmp_path: Path) -> None:
    hr_only = tmp_path / "hr_only"
    hr_only.mkdir()
    Image.fromarray(skdata.astronaut()[:96, :96]).save(hr_only / "a.png")
    with pytest.raises(ConfigError, match="given LR/HR pairs"):
        prepare_inputs(resolve_dataset(hr_only), scale=2, degradation="given+jpeg-png", cache_root=tmp_path / "c")
    folder = _pairs_folder(tmp_path, ids=(1,), without_hr=())
    result = run_benchmark([folder], out=tmp_path / "out", degradations=["given+gaussian-noise"], device="cpu",
                           methods=["bicubic", f"zssr+true-kernel:{TINY_ZSSR}"])
    assert len(result.records) == 2
    assert "with Gaussian noise on every LR" in result.table.read_text(encoding="utf-8")
