"""``zssr`` refuses in one line, before any training, what cannot work; and leaves nothing behind.

Issue 16 through the command line: scales too large for memory, seeds, devices,
kernels, steps that do not enlarge, output folders that cannot be written, stale
temps, disk full, odd kernel files and paths, gray-vs-colour metrics. Tests that
must prove a check comes *before* training replace ``upscale_tensor`` by a function
that fails the test when called.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import numpy as np
import pytest

import zssr.cli as cli
import zssr.limits as limits
from zssr.io import write_image

FAST = ["--preset", "fast", "--max-iterations", "2", "--quiet", "--set", "back_projection_iters=1"]


def _png(path: Path, h: int = 24, w: int = 24, channels: int = 3, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    write_image(path, np.round(rng.random((h, w, channels)) * 255) / 255, bit_depth=8)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str | os.PathLike[str]) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _image_failed(code: int, err: str, *, contains: str) -> None:
    """A folder run's failure: exit 2, one ``zssr: failed:`` line naming the cause, a closing ``zssr: error:`` line."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert all(line.startswith("zssr: ") for line in lines), err
    assert lines[-1].startswith("zssr: error: "), err
    assert [line for line in lines if line.startswith("zssr: failed: ") and contains in line], err


def _one_line_error(code: int, err: str, *, contains: str = "") -> None:
    """Exit 2, exactly one stderr line starting ``zssr: error:``, no traceback."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zssr: error: "), err
    assert "Traceback" not in err
    assert contains in lines[0], lines[0]


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training is a test failure: whatever is wrong must be found before it."""

    def trained(*args: object, **kwargs: object) -> None:
        raise AssertionError("upscale_tensor was called: the mistake was not caught up front")

    monkeypatch.setattr("zssr.task.upscale_tensor", trained)


# ----------------------------------------------------------------------------- cause 1: scale upper bound


@pytest.mark.parametrize("scale", ["1e308", "1e9", "1000", "inf", "2,1e300"])
def test_a_scale_too_large_for_memory_is_one_line_and_trains_nothing(
    scale: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "available_memory", lambda device="cpu": 16 * 2**30)
    source = _png(tmp_path / "a.png", 48, 48)
    code, _, err = _run(capsys, "upscale", source, "-s", scale, "-o", tmp_path / "b.png", *FAST)
    _one_line_error(code, err)
    if scale == "1000":
        assert "×1000 of 48×48 makes an output of 48000×48000 pixels" in err and "enough for an output" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_a_run_that_fits_announces_its_plan_unless_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _png(tmp_path / "a.png")
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png",
                        *[a for a in FAST if a != "--quiet"])
    assert code == 0, err
    assert "zssr: " + str(source) + ": 24×24 → 48×48 pixels in 1 step(s), at most 2 training iterations" in err


# ----------------------------------------------------------------------------- cause 2: seeds


@pytest.mark.parametrize("seed", ["-1", str(2**63), str(2**64 + 5), "1.5", "x"])
def test_bad_seeds_are_one_line_naming_the_seed(
    seed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    source = _png(tmp_path / "a.png")
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", "--seed", seed, *FAST)
    _one_line_error(code, err, contains="argument --seed: must be an integer in [0, 2**63)")


def test_bad_seeds_are_refused_by_kernel_gaussian_and_bench_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "kernel", "gaussian", "--random", "--scale", "2", "--seed", "-5",
                        "-o", tmp_path / "k.mat")
    _one_line_error(code, err, contains="--seed")
    code, _, err = _run(capsys, "bench", "--dataset", tmp_path, "--data-seed", str(2**63), "--out", tmp_path / "o")
    _one_line_error(code, err, contains="--data-seed")


# ----------------------------------------------------------------------------- cause 3: devices


def test_a_cuda_index_that_does_not_exist_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    source = _png(tmp_path / "a.png")
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", "--device", "cuda:999", *FAST)
    _one_line_error(code, err, contains="cuda:999")


# ----------------------------------------------------------------------------- cause 4: kernel size


def test_a_kernel_far_larger_than_the_image_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    source = _png(tmp_path / "a.png", 48, 48)
    np.save(tmp_path / "k.npy", np.ones((1001, 1001)))
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", "--kernel", tmp_path / "k.npy",
                        *FAST)
    _one_line_error(code, err, contains="is 1001×1001, too large for ×2: at most 33×33")


def test_a_kernel_wider_than_one_input_of_a_folder_names_that_input_and_the_others_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The folder run's precheck (before any training) fails only that image; the batch goes on (issue #15)."""
    folder = tmp_path / "in"
    folder.mkdir()
    _png(folder / "big.png", 48, 48)
    _png(folder / "small.png", 16, 40)
    np.save(tmp_path / "k.npy", np.ones((21, 21)))
    code, _, err = _run(capsys, "upscale", folder, "-s", "2", "--out-dir", tmp_path / "out", "--kernel",
                        tmp_path / "k.npy", *FAST)
    _image_failed(code, err, contains="small.png is 21×21, too large for ×2 of a 16×40 input: at most 16×33")
    assert (tmp_path / "out" / "big.png").exists() and not (tmp_path / "out" / "small.png").exists()


# ----------------------------------------------------------------------------- cause 5: nothing left behind


def test_stale_temps_of_a_killed_run_are_removed_by_the_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _png(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".a.png.0123456789ab.tmp"
    fresh = out / ".a.png.abcdef012345.tmp"  # another run may be writing it right now
    foreign = out / ".notes.tmp"
    for path in (stale, fresh, foreign):
        path.write_bytes(b"")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(foreign, (old, old))
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", out / "a.png", *FAST)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [".a.png.abcdef012345.tmp", ".notes.tmp", "a.png"]
    # A folder run holds the folder's lock: an unlocked temp of its own outputs is a dead writer's, at any age.
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "--out-dir", out, "--overwrite", *FAST)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [".notes.tmp", "a.png", "zssr-manifest.json"]


def test_a_disk_full_at_the_first_write_names_the_file_and_leaves_no_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _png(tmp_path / "a.png")

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "--out-dir", tmp_path / "out" / "x2", "--save-curves",
                        *FAST)
    _image_failed(code, err, contains=f"cannot write image {tmp_path / 'out' / 'x2' / 'a.png'}")
    assert "No space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_a_disk_full_while_writing_the_curves_names_the_curves_file_and_keeps_the_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import zssr._atomic as atomic

    source = _png(tmp_path / "a.png")
    real = atomic.atomic_write

    def full_for_figures(target: object, encode: object, *, what: str = "file") -> None:
        def no_room(handle: object) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        real(target, no_room, what=what)  # type: ignore[arg-type]

    monkeypatch.setattr("zssr._figures.atomic_write", full_for_figures)
    out = tmp_path / "out"
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "--out-dir", out, "--save-curves", *FAST)
    _image_failed(code, err, contains=f"cannot write figure {out / 'a_curves.png'}: [Errno 28]")
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "zssr-manifest.json"]


# ----------------------------------------------------------------------------- cause 7: checked too late


@pytest.mark.parametrize("scale, why", [
    ("2,1", "scale step 2 of 2 (×1) does not enlarge the input"), ("1,1", "does not enlarge the input"),
    ("1", "scale ×1 does not enlarge the input"), ("2x2,2x1.5", "is larger than the last step"),
    (",".join(str(1 + k / 100) for k in range(1, 100)), "at most 64 scale steps"),
])
def test_steps_that_do_not_enlarge_are_one_line_and_train_nothing(
    scale: str, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    source = _png(tmp_path / "a.png")
    code, _, err = _run(capsys, "upscale", source, "-s", scale, "-o", tmp_path / "b.png", *FAST)
    _one_line_error(code, err, contains=why)


@pytest.mark.parametrize("argv, contains", [
    (["--gradual", "100000000"], "--gradual must be an integer from 1 to 64"),
    (["--max-iterations", "1000000000000"], ""),
])
def test_huge_step_and_iteration_counts_are_refused_or_cost_nothing_up_front(
    argv: list[str], contains: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--gradual 1e8`` built a 10⁸-step pattern; ``--max-iterations 1e12`` allocated 4 TB for the loss curve."""
    source = _png(tmp_path / "a.png")
    if not contains:  # a valid request: it must start training at once (stopped here after one iteration)
        def first_example(*args: object, **kwargs: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr("zssr.training.make_son", first_example)
        code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", *argv, "--quiet")
        assert code == 130 and err.strip() == "zssr: interrupted"
        return
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", *argv, "--quiet")
    _one_line_error(code, err, contains=contains)


def test_an_output_folder_under_a_file_is_reported_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    source = _png(tmp_path / "a.png")
    (tmp_path / "file").write_text("not a folder")
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "--out-dir", tmp_path / "file" / "sub", *FAST)
    _one_line_error(code, err, contains="file is a file, not a folder")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="as root, mode 0o555 does not stop writes")
def test_a_read_only_output_folder_is_reported_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    source = _png(tmp_path / "a.png")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, _, err = _run(capsys, "upscale", source, "-s", "2", "--out-dir", folder, *FAST)
        _one_line_error(code, err, contains=f"cannot write to output folder {folder}: permission denied")
        code, _, err = _run(capsys, "upscale", source, "-s", "2", "--out-dir", folder / "sub", *FAST)
        _one_line_error(code, err, contains=f"cannot create output folder {folder / 'sub'}")
    finally:
        folder.chmod(0o755)


def test_a_read_only_file_system_is_reported_in_words_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write probe's failure on a read-only mount (simulated: EROFS from the probe's create)."""
    source = _png(tmp_path / "a.png")
    rofs = tmp_path / "rofs"
    rofs.mkdir()
    real_open = os.open

    def read_only(path: str | os.PathLike[str], flags: int, *args: object, **kwargs: object) -> int:
        if Path(path).parent == rofs and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "--out-dir", rofs / "sub", *FAST)
    _one_line_error(code, err, contains=f"cannot create output folder {rofs / 'sub'}: cannot write to {rofs} "
                                        "(read-only file system)")


# ----------------------------------------------------------------------------- smaller


def test_a_garbage_npy_kernel_is_called_not_a_npy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _png(tmp_path / "a.png")
    (tmp_path / "k.npy").write_bytes(b"garbage" * 10)
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", "--kernel", tmp_path / "k.npy",
                        *FAST)
    _one_line_error(code, err, contains="is not a .npy file")
    assert "pickle" not in err


def test_an_object_npy_kernel_is_refused_in_plain_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _png(tmp_path / "a.png")
    np.save(tmp_path / "k.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, _, err = _run(capsys, "upscale", source, "-s", "2", "-o", tmp_path / "b.png", "--kernel", tmp_path / "k.npy",
                        *FAST)
    _one_line_error(code, err, contains="holds Python objects, not numbers")


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_symlink_loop_is_called_a_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "loop1.png").symlink_to(tmp_path / "loop2.png")
    (tmp_path / "loop2.png").symlink_to(tmp_path / "loop1.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    code, _, err = _run(capsys, "upscale", tmp_path / "loop1.png", "-s", "2", "-o", tmp_path / "b.png", *FAST)
    _one_line_error(code, err, contains="is a symbolic link loop")
    code, _, err = _run(capsys, "upscale", tmp_path / "dangling.png", "-s", "2", "-o", tmp_path / "b.png", *FAST)
    _one_line_error(code, err, contains="is a broken symbolic link")
    code, _, err = _run(capsys, "metrics", "--reference", tmp_path / "loop1.png", "--test", tmp_path / "loop2.png")
    _one_line_error(code, err, contains="is a symbolic link loop")


def test_metrics_refuses_a_gray_image_against_a_colour_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rgb, gray = _png(tmp_path / "rgb.png"), _png(tmp_path / "gray.png", channels=1)
    code, out, err = _run(capsys, "metrics", "--reference", rgb, "--test", gray)
    _one_line_error(code, err, contains="is colour (RGB) but --test")
    assert out == ""


def test_metrics_scores_an_rgb_file_holding_a_gray_picture_against_gray(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gray = np.round(np.random.default_rng(0).random((24, 24, 1)) * 255) / 255
    write_image(tmp_path / "gray.png", gray, bit_depth=8)
    write_image(tmp_path / "rgb.png", np.repeat(gray, 3, axis=2), bit_depth=8)
    code, out, err = _run(capsys, "metrics", "--reference", tmp_path / "gray.png", "--test", tmp_path / "rgb.png")
    assert code == 0, err
    assert "inf" in out.splitlines()[-1]


# ----------------------------------------------------------------------------- the other commands' limits


@pytest.mark.parametrize(
    "argv, contains",
    [
        (["--scale", "1e308"], "to more than 1e308 pixels per side needs more memory than any machine has"),
        (["--scale", "1e9"], "resizing 24×24 to 24000000000×24000000000 pixels needs about"),
        (["--size", "100000000x100000000"], "enough for an output of about"),
        (["--scale", "1e-308"], "shrinks its height of 24 pixels below one pixel"),
        (["--scale", "0.01x0.5"], "shrinks its height of 24 pixels below one pixel"),
    ],
)
def test_resize_refuses_outputs_too_large_or_below_a_pixel_before_any_work(
    argv: list[str], contains: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _png(tmp_path / "a.png")
    code, _, err = _run(capsys, "resize", source, *argv, "-o", tmp_path / "b.png")
    _one_line_error(code, err, contains=contains)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


@pytest.mark.parametrize(
    "argv, contains",
    [
        (["gaussian", "--random", "--scale", "1e308"], "at most 256"),
        (["gaussian", "--sigma", "1e9", "1e9"], "needs a 6e+09-tap kernel"),
        (["gaussian", "--size", "100000", "--sigma", "1", "1"], "at most 4097 taps per side"),
        (["estimate", "IMAGE", "-s", "1e9"], "--scale must be at most 256"),
    ],
)
def test_kernel_commands_refuse_kernels_too_large_to_use(
    argv: list[str], contains: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = _png(tmp_path / "a.png", 96, 96)
    argv = [str(image) if a == "IMAGE" else a for a in argv]
    code, _, err = _run(capsys, "kernel", *argv, "-o", tmp_path / "k.mat")
    _one_line_error(code, err, contains=contains)


def test_a_kernel_file_too_large_to_use_or_compose_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "huge.npy", np.ones((5000, 3)))
    code, _, err = _run(capsys, "kernel", "show", tmp_path / "huge.npy", "-o", tmp_path / "k.png")
    _one_line_error(code, err, contains="is 5000×3; a kernel has at most 4097 taps per side")
    np.save(tmp_path / "big.npy", np.ones((400, 400)))
    code, _, err = _run(capsys, "kernel", "compose", tmp_path / "big.npy", "-o", tmp_path / "k4.mat")
    _one_line_error(code, err, contains="too large to compose")


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a child process")
def test_ctrl_c_during_training_is_one_line_within_a_second_and_leaves_nothing(tmp_path: Path) -> None:
    """The real thing: a ``zssr upscale`` process, interrupted once its plan line says training starts."""
    import signal
    import subprocess
    import sys
    import threading

    source = _png(tmp_path / "a.png", 64, 64)
    out = tmp_path / "out"
    src = str(Path(cli.__file__).parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p))
    child = subprocess.Popen(
        [sys.executable, "-m", "zssr", "upscale", str(source), "-s", "2", "--out-dir", str(out), "--max-iterations",
         "100000", "--preset", "fast", "--precision", "float32"],  # float32: still training 2 s in
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert child.stderr is not None
    lines: list[tuple[float, str]] = []
    started = threading.Event()

    def read() -> None:
        assert child.stderr is not None
        for line in iter(child.stderr.readline, ""):
            lines.append((time.perf_counter(), line))
            if "training iterations" in line:  # the plan line comes right before training
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(timeout=60)
        time.sleep(2.0)  # well into training
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        code = child.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    said = [t for t, line in lines if line.strip() == "zssr: interrupted"]
    text = "".join(line for _, line in lines)
    # 130 from the handler; -SIGINT (the shell's 130 too) if the interpreter re-raised it at exit.
    assert code in (130, -signal.SIGINT), text
    assert said and said[0] - sent < 1.0, text
    assert "Traceback" not in text
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
