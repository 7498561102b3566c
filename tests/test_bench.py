"""Tests of the benchmark harness (zssr.bench): data, methods, scoring, resuming, outputs.

ZSSR runs here use a tiny budget (``fast`` preset, 3 iterations, 32-px crops) on
small crops of skimage's sample images: they test the harness, not ZSSR's quality.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from zssr import bench
from zssr.bench import (
    DEGRADED_KINDS,
    MethodInput,
    MethodOutput,
    MethodSpec,
    modcrop,
    parse_method,
    prepare_inputs,
    resolve_dataset,
    run_benchmark,
)
from zssr.cli.bench import add_bench_arguments, run_bench
from zssr.degradation import jpeg_quality
from zssr.errors import ConfigError, ImageReadError, ScaleError
from zssr.io import read_image, to_array, to_tensor, write_image
from zssr.kernels import align_kernel, downscale, load_kernel, random_gaussian_kernel
from zssr.resize import imresize

TINY_ZSSR = "zssr:preset=fast,max_iterations=3,crop_size=32"


def _crops() -> dict[str, np.ndarray]:
    """Small natural images: RGB, gray, and sizes that are not multiples of 2 or 3."""
    return {
        "astro": skdata.astronaut()[100:164, 150:214],
        "cam": skdata.camera()[200:265, 200:262, None],
        "coffee": skdata.coffee()[100:170, 200:266],
    }


def _write_folder(folder: Path, images: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, pixels in images.items():
        write_image(folder / f"{name}.png", pixels.astype(np.float32) / 255.0)
    return folder


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of three small HR images."""
    return _write_folder(tmp_path_factory.mktemp("small") / "small", _crops())


def _round8(x: np.ndarray) -> np.ndarray:
    return (np.floor(np.clip(x, 0.0, 1.0) * 255.0 + 0.5) / 255.0).astype(np.float32)


class _CountingBicubic:
    """A custom method: bicubic upscale plus a seed-dependent offset, counting its calls."""

    def __init__(self) -> None:
        self.requests: list[MethodInput] = []

    def __call__(self, request: MethodInput) -> MethodOutput:
        self.requests.append(request)
        up = to_array(imresize(to_tensor(request.lr), request.scale))
        gain = float(request.options.get("gain", 0.0))
        return MethodOutput(sr=np.clip(up + gain * request.seed / 255.0, 0.0, 1.0), iterations=7, info={"seen": True})


# ----------------------------------------------------------------------------- method specs


def test_method_spec_parses_typed_values_and_sorts_options_into_one_label() -> None:
    spec = parse_method("zssr:preset=fast,max_iterations=300,noise_std=0.0125,output_flip=false,x=none")
    assert spec.name == "zssr"
    assert dict(spec.options) == {
        "max_iterations": 300, "noise_std": 0.0125, "output_flip": False, "preset": "fast", "x": None,
    }
    assert spec.label == "zssr:max_iterations=300,noise_std=0.0125,output_flip=false,preset=fast,x=none"
    assert parse_method("zssr:x=none,output_flip=false,noise_std=0.0125,max_iterations=300,preset=fast") == spec
    assert parse_method("bicubic").label == "bicubic"
    assert ":" not in parse_method("zssr:preset=fast").slug


def test_tuple_fields_in_a_method_spec_are_read_by_type_with_semicolons_or_literals() -> None:
    # what `--method` needs to queue a gradual pattern (the Table 1 ladder, issue #27) like any preset
    ladder = parse_method("zssr:preset=gradual,gradual_pattern=0.5x0.5;1x1,back_projection_iters=6;8")
    assert dict(ladder.options) == {
        "back_projection_iters": (6, 8), "gradual_pattern": ((0.5, 0.5), (1.0, 1.0)), "preset": "gradual",
    }
    assert parse_method("zssr:gradual_pattern=((0.5,0.5),(1,1)),back_projection_iters=(6,8),preset=gradual") == ladder
    assert parse_method(ladder.label) == ladder  # the label, as recorded for resuming, reads back the same
    # the same spec as one made through the API with Python tuples (table1_ladder_screen.py)
    assert ladder == MethodSpec("zssr", tuple(sorted(
        {"preset": "gradual", "gradual_pattern": ((0.5, 0.5), (1.0, 1.0)), "back_projection_iters": (6, 8)}.items())))
    with pytest.raises(ConfigError, match="gradual_pattern needs 2 values"):
        parse_method("zssr:gradual_pattern=0.5;1x1")


@pytest.mark.parametrize(
    ("text", "match"),
    [(":preset=fast", "name"), ("zssr:preset", "key=value"), ("zssr:a=1,a=2", "twice"), ("zssr:=3", "key=value")],
)
def test_malformed_method_specs_raise_config_errors_naming_the_problem(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_method(text)


def test_unknown_methods_and_bad_options_are_refused_before_any_work(small_set: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not registered"):
        run_benchmark([small_set], out=tmp_path, methods=["nope"])
    with pytest.raises(ConfigError, match="true kernel"):
        run_benchmark([small_set], out=tmp_path, methods=["zssr+true-kernel"], degradations=["bicubic"])
    with pytest.raises(ConfigError, match="degradation"):
        run_benchmark([small_set], out=tmp_path, methods=["bicubic"], degradations=["blur"])  # type: ignore[list-item]
    with pytest.raises(ScaleError, match="scale"):
        run_benchmark([small_set], out=tmp_path, methods=["bicubic"], scales=[1.0])
    with pytest.raises(ConfigError, match="jobs"):
        run_benchmark([small_set], out=tmp_path, methods=["bicubic"], jobs=0)
    with pytest.raises(ImageReadError, match="neither"):
        run_benchmark([tmp_path / "missing"], out=tmp_path, methods=["bicubic"])
    assert not (tmp_path / "runs").exists()


# ----------------------------------------------------------------------------- data


@pytest.mark.parametrize(("scale", "expected"), [(2, (64, 62)), (3, (63, 60)), (4, (64, 60)), (1.5, (63, 60))])
def test_modcrop_keeps_the_top_left_multiple_of_the_scale_like_matlab(scale: float, expected: tuple[int, int]) -> None:
    image = np.arange(65 * 62, dtype=np.float32).reshape(65, 62, 1)
    out = modcrop(image, scale)
    assert out.shape[:2] == expected
    np.testing.assert_array_equal(out, image[: expected[0], : expected[1]])


def test_images_and_limit_select_by_name_in_folder_order(small_set: Path, tmp_path: Path) -> None:
    source = resolve_dataset(small_set)
    _, items = prepare_inputs(source, scale=2, degradation="bicubic", cache_root=tmp_path, limit=2)
    assert [i.name for i in items] == ["astro", "cam"]
    _, items = prepare_inputs(source, scale=2, degradation="bicubic", cache_root=tmp_path, images=["coffee", "astro"])
    assert [i.name for i in items] == ["astro", "coffee"]
    with pytest.raises(ConfigError, match="not in dataset"):
        prepare_inputs(source, scale=2, degradation="bicubic", cache_root=tmp_path, images=["lena"])
    with pytest.raises(ConfigError, match="SelfExSR"):
        prepare_inputs(source, scale=2, degradation="bicubic", cache_root=tmp_path, lr_source="selfexsr")


def test_bicubic_lr_is_matlab_imresize_of_the_modcropped_8bit_hr(small_set: Path, tmp_path: Path) -> None:
    condition, items = prepare_inputs(resolve_dataset(small_set), scale=3, degradation="bicubic", cache_root=tmp_path)
    assert condition.key == "small_x3_bicubic-imresize_seed0"
    for item in items:
        hr = read_image(item.hr).color
        original = read_image(small_set / f"{item.name}.png").color
        np.testing.assert_array_equal(hr, modcrop(original, 3))
        expected = to_array(imresize(to_tensor(hr), 1 / 3, quantize=True))
        np.testing.assert_array_equal(read_image(item.lr).color, expected)


def test_gaussian_kernel_inputs_save_the_true_kernel_and_the_lr_is_its_downscale(small_set: Path, tmp_path: Path) -> None:
    source = resolve_dataset(small_set)
    condition, items = prepare_inputs(source, scale=2, degradation="gaussian-kernel", cache_root=tmp_path)
    assert condition.variant == "div2krk"  # default recipe at ×2
    kernels = []
    for item in items:
        assert item.kernel is not None and item.kernel.name == f"{item.name}_kernel.mat"
        assert item.kernel.with_suffix(".png").is_file()
        k = load_kernel(item.kernel)
        expected = random_gaussian_kernel(2, generator=item.degradation["kernel_seed"], recipe="div2krk")
        torch.testing.assert_close(k, expected, rtol=0, atol=1e-12)
        hr = read_image(item.hr).color
        low = downscale(to_tensor(hr).double(), align_kernel(k, 2), 2)
        np.testing.assert_array_equal(read_image(item.lr).color, _round8(to_array(low)))
        kernels.append(k)
    assert not torch.equal(kernels[0], kernels[1])  # one random kernel per image
    condition3, _ = prepare_inputs(source, scale=3, degradation="gaussian-kernel", cache_root=tmp_path, limit=1)
    assert condition3.variant == "zssr"  # DIV2KRK has only ×2/×4


def test_degraded_assigns_one_of_three_degradations_deterministically_per_data_seed(tmp_path: Path) -> None:
    photo = skdata.chelsea()
    tiles = {f"t{i}": photo[60 + 20 * i : 100 + 20 * i, 100 + 30 * i : 140 + 30 * i] for i in range(8)}
    source = resolve_dataset(_write_folder(tmp_path / "tiles", tiles))
    kinds_by_seed = {}
    for seed in range(3):
        runs = [
            prepare_inputs(source, scale=2, degradation="degraded", cache_root=tmp_path / f"c{seed}_{rep}", data_seed=seed)[1]
            for rep in range(2)
        ]
        kinds = [i.degradation["kind"] for i in runs[0]]
        assert kinds == [i.degradation["kind"] for i in runs[1]]
        for a, b in zip(*runs):
            np.testing.assert_array_equal(read_image(a.lr).color, read_image(b.lr).color)
        assert set(kinds) <= set(DEGRADED_KINDS)
        kinds_by_seed[seed] = kinds
        # Every degradation acts on the clean bicubic LR; JPEG is Pillow's quality-45 round trip.
        for item in runs[0]:
            clean = to_array(imresize(to_tensor(read_image(item.hr).color), 0.5, quantize=True))
            lr = read_image(item.lr).color
            if item.degradation["kind"] == "jpeg":
                buffer = io.BytesIO()
                Image.fromarray(np.round(clean * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=45)
                expected = np.asarray(Image.open(buffer), dtype=np.float32) / 255.0
                np.testing.assert_array_equal(lr, expected)
            else:
                # Noise of the documented strength where neither clipping nor darkness hides it.
                mid = (clean > 0.15) & (clean < 0.85)
                assert mid.sum() > 100
                diff = (lr - clean)[mid]
                if item.degradation["kind"] == "gaussian-noise":
                    assert diff.std() == pytest.approx(bench.GAUSSIAN_NOISE_SIGMA, rel=0.3)
                else:  # speckle: J = I + n·I with var(n) = SPECKLE_VARIANCE
                    assert (diff / clean[mid]).std() == pytest.approx(bench.SPECKLE_VARIANCE**0.5, rel=0.3)
    all_kinds = {k for kinds in kinds_by_seed.values() for k in kinds}
    assert all_kinds == set(DEGRADED_KINDS)
    assert kinds_by_seed[0] != kinds_by_seed[1] or kinds_by_seed[1] != kinds_by_seed[2]


def test_a_forced_kind_degrades_every_image_and_jpeg_file_keeps_the_encoders_file(
    small_set: Path, tmp_path: Path,
) -> None:
    # issue #28 item 5: Table 3 with one kind on every image; "JPEG read from the file" must be a .jpg
    source = resolve_dataset(small_set)
    cond_file, as_file = prepare_inputs(source, scale=2, degradation="jpeg-file", cache_root=tmp_path, data_seed=7)
    cond_png, as_png = prepare_inputs(source, scale=2, degradation="jpeg-png", cache_root=tmp_path, data_seed=7)
    assert cond_file.key != cond_png.key  # separate columns, separate caches and records
    for f, p in zip(as_file, as_png):
        assert f.lr.suffix == ".jpg" and p.lr.suffix == ".png"
        assert f.degradation["kind"] == "jpeg-file" and p.degradation["kind"] == "jpeg-png"
        with Image.open(f.lr) as picture:
            assert picture.format == "JPEG"
            assert jpeg_quality(f.lr).quality == bench.JPEG_QUALITY  # read from its quantisation tables
        # the PNG holds exactly the pixels the JPEG file decodes to
        np.testing.assert_array_equal(read_image(f.lr).color, read_image(p.lr).color)
    _, noisy = prepare_inputs(source, scale=2, degradation="gaussian-noise", cache_root=tmp_path, data_seed=7)
    assert [i.degradation["kind"] for i in noisy] == ["gaussian-noise"] * len(noisy)
    _, speckled = prepare_inputs(source, scale=2, degradation="speckle-noise", cache_root=tmp_path, data_seed=7)
    assert [i.degradation["kind"] for i in speckled] == ["speckle-noise"] * len(speckled)


def test_a_jpeg_quality_other_than_45_is_a_column_of_its_own_and_the_file_carries_it(
    small_set: Path, tmp_path: Path,
) -> None:
    # issue #28 item 3: the son-quality rule is checked at input qualities other than the paper's 45
    source = resolve_dataset(small_set)
    paper, _ = prepare_inputs(source, scale=2, degradation="jpeg-file", cache_root=tmp_path, data_seed=7)
    cond, items = prepare_inputs(source, scale=2, degradation="jpeg-file", cache_root=tmp_path, data_seed=7,
                                 jpeg_quality=30)
    assert paper.key != cond.key and cond.variant.endswith("-q30")  # its own cache and records
    assert (cond.jpeg_quality, cond.lr_variant, paper.jpeg_quality) == (30, paper.variant, bench.JPEG_QUALITY)
    assert cond.column.endswith("JPEG q30") and paper.column == "small ×2"
    for item in items:
        assert jpeg_quality(item.lr).quality == 30 and item.degradation["quality"] == 30
    # a kind without JPEG ignores the quality: the same column as the paper's
    plain, _ = prepare_inputs(source, scale=2, degradation="gaussian-noise", cache_root=tmp_path, jpeg_quality=30)
    assert plain.variant == "imresize" and plain.jpeg_quality == bench.JPEG_QUALITY
    result = run_benchmark([small_set], out=tmp_path / "run", methods=["bicubic"], degradations=["jpeg-png"],
                           jpeg_quality=30, limit=1)
    assert "JPEG quality 30" in result.table.read_text(encoding="utf-8")
    assert json.loads(result.json.read_text(encoding="utf-8"))["settings"]["degraded"]["jpeg_quality"] == 30


@pytest.mark.parametrize("quality", [0, 101, 45.0, True, "45"])
def test_a_bad_jpeg_quality_is_refused_naming_it(small_set: Path, tmp_path: Path, quality: Any) -> None:
    with pytest.raises(ConfigError, match="jpeg_quality"):
        run_benchmark([small_set], out=tmp_path, methods=["bicubic"], degradations=["jpeg-png"], jpeg_quality=quality)
    assert not (tmp_path / "inputs").exists()  # refused before any input is made


def test_methods_are_told_the_lr_file_so_a_jpeg_reads_its_quality_from_the_file(
    small_set: Path, tmp_path: Path,
) -> None:
    method = _CountingBicubic()
    run_benchmark([small_set], out=tmp_path, methods=["count"], registry={"count": method},
                  degradations=["jpeg-file"], limit=1)
    (request,) = method.requests
    assert request.source is not None and request.source.suffix == ".jpg" and request.source.is_file()


# ----------------------------------------------------------------------------- running


def test_rerun_skips_finished_results_and_reuses_cached_inputs(small_set: Path, tmp_path: Path) -> None:
    method = _CountingBicubic()
    registry = {"count": method}
    first = run_benchmark([small_set], out=tmp_path, methods=["count"], registry=registry, seeds=2)
    assert len(method.requests) == 6 and first.ran == 6 and first.resumed == 0
    inputs = sorted((tmp_path / "inputs").rglob("*.png"))
    stamps = [p.stat().st_mtime_ns for p in inputs]

    second = run_benchmark([small_set], out=tmp_path, methods=["count"], registry=registry, seeds=2)
    assert len(method.requests) == 6  # no new call
    assert second.ran == 0 and second.resumed == 6
    assert [(r.image, r.seed, r.psnr, r.ssim) for r in second.records] == [
        (r.image, r.seed, r.psnr, r.ssim) for r in first.records
    ]
    assert [p.stat().st_mtime_ns for p in inputs] == stamps

    # A lost result (interrupted run) is the only one redone.
    (tmp_path / first.records[0].sr).with_suffix(".json").unlink()
    third = run_benchmark([small_set], out=tmp_path, methods=["count"], registry=registry, seeds=2)
    assert len(method.requests) == 7 and third.ran == 1


def test_a_method_registered_in_METHODS_gets_options_kernel_and_seeds(
    small_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    method = _CountingBicubic()
    monkeypatch.setitem(bench.METHODS, "mine", method)
    result = run_benchmark(
        [small_set], out=tmp_path, methods=["mine:gain=2.5", "bicubic"], degradations=["gaussian-kernel"],
        seeds=2, limit=2,
    )
    seen = {(r.image, r.seed) for r in method.requests}
    assert seen == {("astro", 0), ("astro", 1), ("cam", 0), ("cam", 1)}
    for request in method.requests:
        assert dict(request.options) == {"gain": 2.5} and request.scale == 2.0
        saved = load_kernel(tmp_path / "inputs" / "small_x2_gaussian-kernel-div2krk_seed0" / f"{request.image}_kernel.mat")
        np.testing.assert_array_equal(request.kernel, saved.numpy())
    mine = [r for r in result.records if r.method == "mine:gain=2.5"]
    bicubic = {(r.image, r.seed): r for r in result.records if r.method == "bicubic"}
    assert all(r.iterations == 7 for r in mine)
    # Seed 0 adds nothing: the custom method's output is what was scored.
    assert all(r.psnr == bicubic[(r.image, 0)].psnr for r in mine if r.seed == 0)
    row = next(s for s in result.summary if s.method == "mine:gain=2.5")
    assert row.seeds == 2 and row.images == 2 and row.psnr_std > 0
    table = result.table.read_text(encoding="utf-8")
    assert "| `mine:gain=2.5` | custom method, Y scored |" in table and "2 seeds" in table
    saved_json = json.loads((tmp_path / mine[0].sr).with_suffix(".json").read_text())
    assert saved_json["info"] == {"seen": True} and saved_json["options"] == {"gain": 2.5}


def test_zssr_with_jobs_2_gives_the_same_numbers_as_jobs_1(small_set: Path, tmp_path: Path) -> None:
    """Spawned workers (1 torch thread each here) vs in-process: same seeds, same numbers.

    ZSSR is compared to 0.02 dB: on machines where workers get a different thread count
    than the parent, float reductions may round differently (equal on our 2-core runner)."""
    torch.set_num_threads(1)  # tiny convs: thread barriers dominate on 2 shared cores
    kwargs: dict[str, Any] = dict(methods=["bicubic", TINY_ZSSR], limit=2, device="cpu")
    serial = run_benchmark([small_set], out=tmp_path / "j1", jobs=1, **kwargs)
    parallel = run_benchmark([small_set], out=tmp_path / "j2", jobs=2, **kwargs)
    assert parallel.ran == serial.ran == 4
    for a, b in zip(serial.records, parallel.records):
        assert (a.method, a.image) == (b.method, b.image)
        if a.method == "bicubic":
            assert (a.psnr, a.ssim) == (b.psnr, b.ssim)
        else:
            assert a.iterations == b.iterations == 3
            assert a.psnr == pytest.approx(b.psnr, abs=0.02)
            assert a.ssim == pytest.approx(b.ssim, abs=1e-3)


# ----------------------------------------------------------------------------- outputs


def test_csv_and_json_hold_the_same_records_and_the_summary_is_their_mean(small_set: Path, tmp_path: Path) -> None:
    result = run_benchmark([small_set], out=tmp_path, methods=["bicubic"], scales=[2, 3])
    with result.csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    payload = json.loads(result.json.read_text())
    assert len(rows) == len(payload["records"]) == 6
    for row, record in zip(rows, payload["records"]):
        for key in ("dataset", "degradation", "variant", "method", "image", "sr"):
            assert row[key] == str(record[key])
        assert float(row["psnr"]) == record["psnr"] and float(row["ssim"]) == record["ssim"]
        assert float(row["scale"]) == record["scale"] and int(row["seed"]) == record["seed"]
        assert (tmp_path / row["sr"]).is_file()
    for summary in payload["summary"]:
        mine = [float(r["psnr"]) for r in rows if float(r["scale"]) == summary["scale"]]
        assert summary["psnr"] == pytest.approx(np.mean(mine), abs=1e-12)
    assert payload["settings"]["scales"] == [2.0, 3.0]


def test_table_shows_the_paper_numbers_and_our_difference(tmp_path: Path) -> None:
    """A folder ``Set5/HR`` takes the name Set5, so its cells get the published Set5 numbers."""
    folder = _write_folder(tmp_path / "Set5" / "HR", {"astro": _crops()["astro"]})
    result = run_benchmark([folder], out=tmp_path / "out", methods=["bicubic"])
    row = result.summary[0]
    assert (row.dataset, row.paper_psnr, row.paper_ssim) == ("Set5", 33.66, 0.9299)
    table = result.table.read_text(encoding="utf-8")
    delta = f"{row.psnr - 33.66:+.2f}/{row.ssim - 0.9299:+.4f}".replace("-", "−")
    assert f"{row.psnr:.2f}/{row.ssim:.4f} · paper 33.66/0.9299 · Δ {delta}" in table
    assert "Table 1" in table and "Y-channel upscale" in table and "| method | protocol | Set5 ×2 |" in table
    assert (tmp_path / "out" / "figure_Set5.png").is_file()


def test_cli_options_run_the_benchmark_and_write_every_output(small_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="zssr bench")
    add_bench_arguments(parser)
    args = parser.parse_args([
        "--dataset", str(small_set), "--method", "bicubic", "--degradation", "degraded", "--scale", "2",
        "--images", "cam,coffee", "--data-seed", "3", "--out", str(tmp_path), "--quiet",
    ])
    assert run_bench(args) == 0
    assert capsys.readouterr().out == ""
    for name in ("results.csv", "results.json", "table.md", "figure_small.png"):
        assert (tmp_path / name).is_file()
    records = json.loads((tmp_path / "results.json").read_text())["records"]
    assert [(r["image"], r["degradation"], r["data_seed"]) for r in records] == [("cam", "degraded", 3), ("coffee", "degraded", 3)]
    assert (tmp_path / "inputs" / "small_x2_degraded-imresize_seed3").is_dir()
    args = parser.parse_args([
        "--dataset", str(small_set), "--method", "bicubic", "--degradation", "jpeg-file", "--jpeg-quality", "60",
        "--images", "cam", "--out", str(tmp_path), "--quiet",
    ])
    assert run_bench(args) == 0
    assert jpeg_quality(tmp_path / "inputs" / "small_x2_jpeg-file-imresize-q60_seed0" / "cam_lr.jpg").quality == 60


# ----------------------------------------------------------------------------- shared data


@pytest.mark.data
def test_bicubic_rows_reproduce_the_published_set5_and_set14_numbers(data_dir: Path, tmp_path: Path) -> None:
    """End to end: SelfExSR LR files (the default for Set5/Set14 ×2), bicubic RGB upscale,
    8-bit rounding, Y scored. Published (SRCNN/VDSR, reprinted in ZSSR Table 1): Set5 33.66/0.9299,
    Set14 30.24/0.8688. Measured with this harness: 33.6455/0.92933 and 30.2225/0.86842 (the
    paper's row upscales Y alone from an unrounded LR, hence the 0.04 dB / 0.001 tolerance)."""
    result = run_benchmark(["Set5", "Set14"], out=tmp_path, methods=["bicubic"], data_root=data_dir)
    rows = {r.dataset: r for r in result.summary}
    assert (rows["Set5"].images, rows["Set14"].images) == (5, 14)
    assert rows["Set5"].variant == rows["Set14"].variant == "selfexsr"
    for name, (psnr, ssim) in {"Set5": (33.66, 0.9299), "Set14": (30.24, 0.8688)}.items():
        assert rows[name].psnr == pytest.approx(psnr, abs=0.04)
        assert rows[name].ssim == pytest.approx(ssim, abs=0.001)
        assert (rows[name].paper_psnr, rows[name].paper_ssim) == (psnr, ssim)
    table = result.table.read_text(encoding="utf-8")
    assert "paper 33.66/0.9299" in table and "paper 30.24/0.8688" in table
    names = [r.image for r in result.records if r.dataset == "Set5"]
    assert names == ["baby", "bird", "butterfly", "head", "woman"]  # names.csv mapping


@pytest.mark.data
def test_imresize_lr_equals_the_selfexsr_lr_file_inside_its_one_pixel_frame(data_dir: Path, tmp_path: Path) -> None:
    """The SelfExSR LR files were made by MATLAB with edge-clamped borders (zssr.resize docs);
    our symmetric-boundary imresize of the same HR agrees everywhere but the outer frame."""
    source = resolve_dataset("Set5", data_dir)
    _, ours = prepare_inputs(source, scale=2, degradation="bicubic", cache_root=tmp_path, lr_source="imresize", images=["bird"])
    _, theirs = prepare_inputs(source, scale=2, degradation="bicubic", cache_root=tmp_path, images=["bird"])
    np.testing.assert_array_equal(read_image(ours[0].hr).color, read_image(theirs[0].hr).color)
    a, b = read_image(ours[0].lr).color, read_image(theirs[0].lr).color
    np.testing.assert_array_equal(a[1:-1, 1:-1], b[1:-1, 1:-1])


def test_kernel_methods_run_and_the_estimated_kernel_is_saved_beside_its_output(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    folder = _write_folder(tmp_path / "big", {"astro": skdata.astronaut()[100:276, 150:326]})  # LR 88×88 ≥ 84
    tiny = "preset=fast,max_iterations=3,crop_size=32,output_flip=false"
    methods = [f"zssr+true-kernel:{tiny}", f"zssr+estimated-kernel:iterations=2,{tiny}"]
    result = run_benchmark([folder], out=tmp_path / "out", methods=methods, degradations=["gaussian-kernel"], device="cpu")
    true_run, record = result.records
    assert true_run.iterations == 3
    stem = (tmp_path / "out" / record.sr).with_suffix("")
    kernel = load_kernel(stem.parent / f"{stem.name}_kernel.mat")
    assert float(kernel.sum()) == pytest.approx(1.0)
    info = json.loads(stem.with_suffix(".json").read_text())["info"]
    assert info["kernel_iterations"] == 2 and info["preset"] == "fast" and record.iterations == 3
    # the do-no-harm check read the output (3 iterations: nowhere near over-sharpened)
    assert info["kernel_fallback"] is False and info["kernel_output_sharpness"] is not None
    assert info["kernel_output_gain"] is not None and info["kernel_harm"] is None


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_zssr_record_names_the_layout_its_net_trained_in(precision: str) -> None:
    """Seconds pair only within one layout (benchmarks/table1.py): NCHW is float32 on a CPU without AVX-512."""
    from zssr.bench.methods import METHODS, MethodInput
    from zssr.network import conv_layout

    lr = skdata.astronaut()[100:132, 150:182].astype(np.float32) / 255.0
    request = MethodInput(lr=lr, scale=2.0, kernel=None, seed=0, device="cpu", image="a", options={
        "preset": "fast", "max_iterations": 2, "crop_size": 16, "precision": precision})
    out = METHODS["zssr"](request)
    expected = "NHWC" if conv_layout("cpu", precision == "bfloat16") == torch.channels_last else "NCHW"
    assert out.info["conv_layout"] == expected
    if precision == "bfloat16":
        assert expected == "NHWC"


@pytest.mark.parametrize(("preset", "fallback"), [("kernel", "ideal"), ("real", "real")])
def test_the_bicubic_kernel_fallback_keeps_a_preset_other_than_kernel(preset: str, fallback: str) -> None:
    # as zssr.upscale: `kernel` falls back to its bicubic counterpart `ideal`; `real` on a noisy input stays `real`
    from zssr.bench.methods import METHODS, MethodInput

    lr = skdata.astronaut()[100:160, 150:210].astype(np.float32) / 255.0  # 60 px: under the estimators' MIN_SIZE
    request = MethodInput(lr=lr, scale=2.0, kernel=None, seed=0, device="cpu", image="a", options={
        "estimator": "edges", "preset": preset, "max_iterations": 2, "crop_size": 16})
    out = METHODS["zssr+estimated-kernel"](request)
    assert out.info["kernel_fallback"] is True and out.info["preset"] == fallback


def test_workers_exit_when_the_bench_process_is_killed(tmp_path: Path) -> None:
    """A `kill` of the parent must not leave pool workers training (and writing) on their own."""
    import signal
    import subprocess
    import sys
    import textwrap

    if not hasattr(os, "getppid") or sys.platform == "win32":
        pytest.skip("needs POSIX signals")
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing, os, sys, time
        from concurrent.futures import ProcessPoolExecutor
        from zssr.bench.runner import _init_worker

        if __name__ == "__main__":
            ctx = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=_init_worker, initargs=(1, 0.1))
            pid = pool.submit(os.getpid).result()
            pool.submit(time.sleep, 120)
            print(pid, flush=True)
            time.sleep(120)
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(worker, signal.SIGKILL)
            pytest.fail("the worker outlived its parent by 10 s")
    finally:
        parent.kill()


# ----------------------------------------------------------------------------- issue 16: checked before writing


@pytest.mark.parametrize(
    "method", ["zssr:presett=fast", "zssr:preset=nope", "bicubic:x=1", "zssr+estimated-kernel:estimator=magic",
               "zssr+estimated-kernel:estimator=edges,iterations=5", "zssr+estimated-kernel:check=maybe",
               "zssr:max_iterations=many"],
)
def test_method_options_are_checked_before_the_input_cache_is_written(
    small_set: Path, tmp_path: Path, method: str
) -> None:
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="method"):
        run_benchmark([small_set], out=out, methods=[method], limit=1)
    assert not out.exists()


@pytest.mark.parametrize("data_seed", [-1, 2**63, 1.5, True])
def test_data_seeds_outside_0_to_2_63_are_config_errors(tmp_path: Path, data_seed: Any) -> None:
    with pytest.raises(ConfigError, match="data_seed"):
        run_benchmark([tmp_path / "missing"], out=tmp_path / "run", methods=["bicubic"], data_seed=data_seed)


def test_bench_records_and_tables_get_the_users_usual_permissions(small_set: Path, tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    result = run_benchmark([small_set], out=tmp_path, methods=["bicubic"], limit=1)
    expected = 0o666 & ~umask
    records = list((tmp_path / "runs").rglob("*.json"))
    assert records
    for path in [result.json, result.csv, result.table, *records, *(tmp_path / "runs").rglob("*.png")]:
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_a_killed_runs_temps_in_the_bench_folder_are_removed(small_set: Path, tmp_path: Path) -> None:
    nested = tmp_path / "runs" / "somewhere"
    nested.mkdir(parents=True)
    stale = nested / ".astro_seed0.json.0123456789ab.tmp"
    stale.write_bytes(b"")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    run_benchmark([small_set], out=tmp_path, methods=["bicubic"], limit=1)
    assert not stale.exists()


def test_images_too_small_to_score_are_refused_before_the_input_cache_is_written(tmp_path: Path) -> None:
    """Found by the long fuzz run: a 4×4 image failed at scoring time, after its inputs were cached."""
    from PIL import Image

    from zssr.errors import ShapeError

    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(np.zeros((24, 24, 3), dtype=np.uint8)).save(folder / "big.png")
    Image.fromarray(np.zeros((15, 40, 3), dtype=np.uint8)).save(folder / "small.png")
    with pytest.raises(ShapeError, match=r"small\.png is 15×40; at ×2 an HR image needs at least 16×16"):
        run_benchmark(datasets=[str(folder)], scales=[2], methods=["bicubic"], out=tmp_path / "out", progress=False)
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))


def test_summary_seconds_come_from_the_machine_that_ran_most_of_a_rows_images() -> None:
    """A run resumed on another machine mixes records; its row's time describes one machine, not an average."""
    from zssr.bench.datasets import Condition
    from zssr.bench.methods import MethodSpec
    from zssr.bench.report import summarize
    from zssr.bench.runner import Record

    def record(image: str, seconds: float, machine: str) -> Record:
        return Record(dataset="Set5", scale=2.0, degradation="bicubic", variant="", data_seed=0, method="zssr",
                      image=image, seed=0, psnr=30.0, ssim=0.9, seconds=seconds, iterations=100, device="cpu",
                      sr="x.png", machine=machine)

    records = [record("a", 100.0, "slow CPU, 1 threads"), record("b", 10.0, "GPU"), record("c", 12.0, "GPU")]
    (row,) = summarize(records, [Condition("Set5", 2.0, "bicubic", "", 0)], [MethodSpec("zssr")])
    assert row.seconds == pytest.approx(11.0) and row.images == 3 and row.psnr == pytest.approx(30.0)
    # records from before machines were kept ("") do not outvote a known machine, however many
    old = [record(name, 500.0, "") for name in ("d", "e", "f")]
    (row,) = summarize(records + old, [Condition("Set5", 2.0, "bicubic", "", 0)], [MethodSpec("zssr")])
    assert row.seconds == pytest.approx(11.0) and row.images == 6


def test_a_cpu_record_on_a_host_with_a_gpu_is_timed_as_the_cpu() -> None:
    """`--device cpu` on a GPU host: its seconds are the CPU's, never grouped with the GPU's."""
    from zssr.bench.runner import _machine_text

    host = {"cpu": "EPYC", "torch_threads": "2", "gpu": "NVIDIA H100"}
    assert _machine_text(host, "cpu") == "EPYC, 2 threads"
    assert _machine_text(host, "cuda") == _machine_text(host, "cuda:0") == "NVIDIA H100"
    assert _machine_text(None, "cpu") == ""


def test_an_estimated_kernel_records_config_holds_its_estimator_options_and_its_fallbacks_config() -> None:
    """Resuming compares them too: a changed default of the estimator or of the fallback preset re-runs the row."""
    from zssr.bench.methods import parse_method, resolved_config
    from zssr.bench.runner import _same_config

    config = resolved_config(parse_method("zssr+estimated-kernel:estimator=edges,preset=kernel"))
    assert config is not None
    assert config["estimator"] == {"estimator": "edges", "iterations": 3000, "restarts": config["estimator"]["restarts"],
                                   "width_correction": False, "check": True}
    assert config["output_flip"] is False and config["fallback"]["output_flip"] is True  # kernel, and ideal behind it
    assert _same_config(config, config)
    for part, key, value in (("estimator", "restarts", 99), ("fallback", "max_iterations", 17)):
        changed = json.loads(json.dumps(config))
        changed[part][key] = value
        assert not _same_config(changed, config), (part, key)
    older = json.loads(json.dumps(config))
    del older["fallback"]["max_iterations"], older["estimator"]  # written before those were kept
    assert _same_config(older, config)
    assert resolved_config(parse_method("bicubic")) is None
