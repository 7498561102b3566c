"""The "flawed" cases of issue #30 through the command line, and ``zssr upscale --nets`` (issue #27).

Each was accepted and then ignored or misused: ``--threads 1000`` (a 4 s job ran for minutes),
``--jobs 1000`` (the memory plan divided by 1000 though two workers started), ``--estimator``
without ``--kernel auto``, ``-o out.png/`` (wrote ``out.png``), a time budget of 1e308 (an
OverflowError), and other numbers out of range. Tests that prove a check comes before training
replace ``upscale_tensor`` by a function that fails the test when called.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zssr.cli as cli
import zssr.cli.batch_options as batch_options
import zssr.cli.upscale as upscale_cli
import zssr.limits as limits
from zssr.batch import Execution, workers_started
from zssr.config import MAX_NETS, MAX_TIME_BUDGET, Config
from zssr.errors import ConfigError, ResourceError, ZSSRError
from zssr.io import read_image, write_image

FAST = ["--preset", "fast", "--max-iterations", "2", "--quiet", "--set", "back_projection_iters=1"]


def _png(path: Path, h: int = 24, w: int = 24, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, np.round(rng.random((h, w, 3)) * 255) / 255, bit_depth=8)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str | os.PathLike[str]) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line_error(code: int, err: str, *contains: str) -> None:
    """Exit 2, exactly one stderr line starting ``zssr: error:`` and holding every ``contains``, no traceback."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zssr: error: "), err
    for text in contains:
        assert text in lines[0], lines[0]


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training is a test failure: whatever is wrong must be found before it."""

    def trained(*args: object, **kwargs: object) -> None:
        raise AssertionError("upscale_tensor was called: the mistake was not caught up front")

    monkeypatch.setattr("zssr.task.upscale_tensor", trained)


@pytest.fixture
def cpus(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Pretend this process may use ``n`` CPUs: ``cpus(n)``."""

    def pretend(n: int) -> None:
        monkeypatch.setattr(limits, "usable_cpus", lambda: n)
        monkeypatch.setattr(batch_options, "usable_cpus", lambda: n)

    return pretend


# ----------------------------------------------------------------------------- --threads and --jobs


def test_usable_cpus_is_the_affinity_mask_of_this_process() -> None:
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    assert limits.usable_cpus() == expected >= 1


@pytest.mark.parametrize("threads", ["3", "1000", str(10**30)])
def test_threads_above_the_usable_cpus_is_one_line_naming_threads_and_the_cap(
    threads: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None, cpus: Any,
) -> None:
    cpus(2)
    source = _png(tmp_path / "a.png")
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", *FAST, "--threads", threads)
    _one_line_error(code, err, f"--threads {threads} is more than the 2 CPUs", "at most 2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_the_api_refuses_more_threads_than_cpus_except_on_ray_nodes(cpus: Any) -> None:
    cpus(2)
    assert Execution("serial", ("cpu",), threads=2).threads == 2
    with pytest.raises(ResourceError, match="threads 3 is more than the 2 CPUs"):
        Execution("processes", ("cpu", "cpu"), threads=3)
    assert Execution("ray", ("cpu",), threads=64).threads == 64  # a Ray node's CPUs are not this machine's


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 1e308 * 10])
def test_ray_cpus_and_gpus_must_be_finite(bad: float) -> None:
    """``int(ray_cpus)`` of an infinite value was an OverflowError traceback after a local cluster started."""
    with pytest.raises(ZSSRError, match="finite"):
        Execution("ray", ("cpu",), ray_cpus=bad)
    with pytest.raises(ZSSRError, match="finite"):
        Execution("ray", ("cpu",), ray_gpus=bad)


@pytest.mark.parametrize("option, value", [("--ray-cpus", "inf"), ("--ray-cpus", "1e309"), ("--ray-gpus", "inf")])
def test_infinite_ray_resources_are_one_line_before_ray_starts(
    option: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("zssr.batch.ray_backend.import_ray", lambda: pytest.fail("Ray was imported"))
    source = _png(tmp_path / "in" / "a.png")
    code, _, err = _run(capsys, "upscale", source.parent, "-s", "2", "--out-dir", tmp_path / "out", *FAST,
                        "--ray", "local", option, value)
    _one_line_error(code, err, f"{option} must be a finite number")


class _Stop(ZSSRError):
    pass


def _planned_memory(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, inputs: Path, out: Path,
                    *options: str) -> tuple[float, str]:
    """The memory each image's plan may use in ``zssr upscale inputs --out-dir out options`` (nothing runs)."""
    seen: list[float] = []

    def fits(steps: object, *, config: object, device: object, available: float) -> None:
        seen.append(available)
        raise _Stop("planned")

    monkeypatch.setattr(upscale_cli, "available_memory", lambda device="cpu": 12e9)
    monkeypatch.setattr(upscale_cli, "check_scale_fits", fits)
    code, _, err = _run(capsys, "upscale", inputs, "-s", "2", "--out-dir", out, *FAST, "--device", "cpu", *options)
    assert code == 2 and err.strip().endswith("zssr: error: planned"), err
    return seen[0], err


def test_jobs_above_the_cpus_is_clamped_with_one_warning_and_memory_is_shared_by_the_workers_that_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cpus: Any,
) -> None:
    """``--jobs 1000`` divided the memory plan by 1000 though two workers started."""
    cpus(4)
    two = tmp_path / "two"
    for i in range(2):
        _png(two / f"im{i}.png", seed=i)
    available, err = _planned_memory(capsys, monkeypatch, two, tmp_path / "out", "--jobs", "1000")
    assert err.splitlines()[0] == "zssr: warning: --jobs 1000 is more than the 4 CPUs this process may use; running at most 4 workers"
    assert available == 12e9 / 2  # two images: two workers start, not 4 and not 1000
    one = tmp_path / "one"
    _png(one / "a.png")
    assert _planned_memory(capsys, monkeypatch, one, tmp_path / "out", "--jobs", "3")[0] == 12e9
    five = tmp_path / "five"
    for i in range(5):
        _png(five / f"im{i}.png", seed=i)
    available, err = _planned_memory(capsys, monkeypatch, five, tmp_path / "out", "--jobs", "3")
    assert available == 12e9 / 3 and "warning" not in err


def test_workers_started_never_exceed_the_images_or_the_devices() -> None:
    four = Execution("processes", ("cpu",) * 4, threads=1)
    assert [workers_started(four, n) for n in (0, 1, 3, 4, 9)] == [1, 1, 3, 4, 4]
    assert workers_started(Execution("serial", ("cpu",)), 9) == 1


# ----------------------------------------------------------------------------- options that were ignored


@pytest.mark.parametrize("options, named", [
    (["--estimator", "kernelgan"], "--estimator applies to --kernel auto only"),
    (["--estimator", "edges"], "--estimator applies to --kernel auto only"),
    (["--kernel-iterations", "5", "--width-correction"], "--kernel-iterations, --width-correction apply to --kernel auto"),
    (["--kernel-restarts", "1"], "--kernel-restarts applies to --kernel auto only"),
])
def test_estimator_options_without_kernel_auto_are_one_line_naming_both_options(
    options: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None,
) -> None:
    source = _png(tmp_path / "a.png")
    k = tmp_path / "k.npy"
    np.save(k, np.full((5, 5), 1 / 25))
    for kernel in ([], ["--kernel", str(k)]):
        code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", *FAST, *kernel, *options)
        _one_line_error(code, err, named)


@pytest.mark.parametrize("output", ["out.png/", "out.png/.", "sub/.."])
def test_an_output_ending_in_a_separator_names_a_folder_and_is_refused_suggesting_out_dir(
    output: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None,
) -> None:
    """``-o out.png/`` wrote the file ``out.png``: the slash, which names a folder, was dropped."""
    source = _png(tmp_path / "a.png")
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", f"{tmp_path}/{output}", *FAST)
    _one_line_error(code, err, "argument -o/--output", "names a folder, not a file", "--out-dir")
    code, _, err = _run(capsys, "resize", source, "--scale", "0.5", "-o", f"{tmp_path}/{output}")
    _one_line_error(code, err, "names a folder", "--out-dir")
    code, _, err = _run(capsys, "kernel", "gaussian", "--sigma", "1", "1", "-o", f"{tmp_path}/k.mat/")
    _one_line_error(code, err, "argument -o/--output", "names a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


# ----------------------------------------------------------------------------- numbers out of range


@pytest.mark.parametrize("budget", ["1e308", "1e309", "inf", "nan", "0", "-1", "10000001"])
def test_a_time_budget_outside_its_finite_range_is_one_line_naming_the_option_and_range(
    budget: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None,
) -> None:
    source = _png(tmp_path / "a.png")
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", *FAST, "--time-budget", budget)
    _one_line_error(code, err, "--time-budget must be a number of seconds in (0, 10,000,000]")
    with pytest.raises(ConfigError, match=r"time_budget must be None or a number of seconds in \(0, 10,000,000\]"):
        Config(time_budget=float(budget))
    assert Config(time_budget=MAX_TIME_BUDGET).time_budget == MAX_TIME_BUDGET


@pytest.mark.parametrize("noise", ["1.5", "1e308", str(10**30)])
def test_a_noise_std_above_1_is_refused_before_training(
    noise: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None,
) -> None:
    """Pixels are in [0, 1]; 1e308 trained a net on infinite sons without a word."""
    source = _png(tmp_path / "a.png")
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", *FAST, "--noise-std", noise)
    _one_line_error(code, err, "noise_std must be in [0, 1]")


# ----------------------------------------------------------------------------- --nets (issue #27)


def test_nets_trains_n_runs_says_so_in_the_plan_and_writes_their_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    source = _png(tmp_path / "a.png")
    plain = [a for a in FAST if a != "--quiet"] + ["--threads", "1", "--device", "cpu"]
    code, out, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "two.png", *plain, "--nets", "2")
    assert code == 0, err
    assert "4 iterations in 1 step(s) × 2 nets" in out
    assert "in 1 step(s) × 2 nets averaged, at most 4 training iterations" in err
    assert "at most 4 iterations ×" in err  # the time estimate counts both runs too
    assert _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "one.png", *plain)[0] == 0
    assert _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "set.png", *plain, "--set", "nets=2")[0] == 0
    two, one = read_image(tmp_path / "two.png").color, read_image(tmp_path / "one.png").color
    assert two.shape == one.shape == (48, 48, 3) and not np.array_equal(two, one)
    assert (tmp_path / "two.png").read_bytes() == (tmp_path / "set.png").read_bytes()  # --nets N is Config.nets


@pytest.mark.parametrize("nets", ["0", "-1", str(MAX_NETS + 1), str(10**30)])
def test_nets_outside_1_to_max_nets_is_one_line_naming_nets(
    nets: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None,
) -> None:
    source = _png(tmp_path / "a.png")
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", *FAST, "--nets", nets)
    _one_line_error(code, err, f"--nets must be an integer from 1 to {MAX_NETS}", "N× the time")


def test_nets_on_a_volume_is_refused_rather_than_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tifffile")
    import tifffile

    stack = tmp_path / "s.tif"
    tifffile.imwrite(stack, np.zeros((3, 24, 24), np.uint8), imagej=True, metadata={"axes": "ZYX"})
    code, _, err = _run(capsys, "upscale", stack, "-s", "2", "-o", tmp_path / "o.tif", *FAST, "--nets", "2")
    _one_line_error(code, err, "--nets applies to 2-D images")
    code, _, err = _run(capsys, "upscale", stack, "-s", "2", "-o", tmp_path / "o.tif", *FAST, "--set", "nets=2")
    _one_line_error(code, err, "nets applies to 2-D images")
    assert not (tmp_path / "o.tif").exists()


def test_threads_above_the_cpus_is_refused_for_a_volume_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cpus: Any,
) -> None:
    """A volume run took ``--threads`` without applying or checking it."""
    pytest.importorskip("tifffile")
    import tifffile

    cpus(2)
    stack = tmp_path / "s.tif"
    tifffile.imwrite(stack, np.zeros((3, 24, 24), np.uint8), imagej=True, metadata={"axes": "ZYX"})
    code, _, err = _run(capsys, "upscale", stack, "-s", "2", "-o", tmp_path / "o.tif", *FAST, "--threads", "1000")
    _one_line_error(code, err, "--threads 1000 is more than the 2 CPUs")
    assert not (tmp_path / "o.tif").exists()


def test_bench_jobs_above_the_cpus_is_clamped_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    bench_cli = pytest.importorskip("zssr.cli.bench")
    seen: list[int] = []

    def run_benchmark(*args: object, jobs: int, **kwargs: object) -> None:
        seen.append(jobs)
        raise _Stop("planned")

    monkeypatch.setattr(bench_cli, "usable_cpus", lambda: 2)
    monkeypatch.setattr(bench_cli, "run_benchmark", run_benchmark)
    code, _, err = _run(capsys, "bench", "--dataset", "Set5", "--jobs", "1000")
    assert code == 2 and seen == [2]
    assert err.splitlines()[0] == "zssr: warning: --jobs 1000 is more than the 2 CPUs this process may use; running at most 2 workers"
    code, _, err = _run(capsys, "bench", "--dataset", "Set5", "--ray", "--ray-cpus", "inf")
    _one_line_error(code, err, "--ray-cpus must be a finite number > 0")
