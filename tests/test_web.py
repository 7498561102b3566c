"""Tests of the ``zssr serve`` machinery that need no browser: runs, cancellation, uploads, folders, zoom.

The page's run is :func:`zssr.web.job.run_job`; the property that matters most is that it
writes the same bytes as ``zssr upscale`` with the same options (it is the command's own
task), so each run here is compared with the command run in this process (same torch
thread count). The Gradio page itself is driven in a real browser by tests/test_web_e2e.py.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import zssr.cli as cli
from zssr.config import MAX_TIME_BUDGET
from zssr.errors import ConfigError, ImageReadError, KernelError, ShapeError
from zssr.io import read_image, to_tensor, write_image
from zssr.kernels import gaussian_kernel, load_kernel, save_kernel
from zssr.resize import imresize
from zssr.web.compare import ZOOM_VIEW, Comparison, preview8
from zssr.web.job import JobOptions, Monitor, Snapshot, budget_iterations, run_job
from zssr.web.session import UPLOAD_NAME, Limits, Visitors, admit_image, admit_kernel, check_upload, header_size


def _image(h: int, w: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A smooth random image in [0, 1], H×W×C float32."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    planes = [sum(np.cos(2 * np.pi * (fy * y + fx * x) + p) for (fy, fx), p in
                  zip(rng.uniform(1, 4, (3, 2)), rng.uniform(0, 6, 3))) for _ in range(channels)]
    image = np.stack(planes, axis=-1)
    return ((image - image.min()) / (image.max() - image.min())).astype(np.float32)


def _run(options: JobOptions, source: Path, folder: Path, cancel: threading.Event | None = None, **kwargs):
    folder.mkdir(exist_ok=True)
    return run_job(options, source, folder, device=torch.device("cpu"), monitor=Monitor(cancel or threading.Event()),
                   **kwargs)


def _cli(tmp_path: Path, *args: object) -> None:
    assert cli.main(["upscale", *map(str, args), "--device", "cpu", "--quiet"]) == 0


# ----------------------------------------------------------------------------- same bytes as the CLI


def test_web_run_writes_the_same_bytes_as_zssr_upscale(tmp_path: Path) -> None:
    source = write_image(tmp_path / "in.png", _image(32, 32))
    result = _run(JobOptions(scale="2", preset="fast", max_iterations=3, seed=5), source, tmp_path / "web")
    assert result.status == "done", result.message
    _cli(tmp_path, source, "-s", "2", "--preset", "fast", "--max-iterations", "3", "--seed", "5", "-o", tmp_path / "cli.png")
    assert result.output is not None and result.output.read_bytes() == (tmp_path / "cli.png").read_bytes()
    assert result.curves is not None and result.curves.is_file()
    assert result.kernel is None and result.kernel_picture is None
    assert "--max-iterations 3" in result.command and "--seed 5" in result.command and "-s 2" in result.command


def test_web_run_keeps_16bit_gray_alpha_and_matches_the_cli(tmp_path: Path) -> None:
    color = _image(24, 28, channels=1, seed=1)
    source = write_image(tmp_path / "in.png", color, alpha=np.linspace(0, 1, 24 * 28, dtype=np.float32).reshape(24, 28),
                         bit_depth=16)
    result = _run(JobOptions(scale="1.5x2", preset="fast", max_iterations=2), source, tmp_path / "web")
    assert result.status == "done", result.message
    _cli(tmp_path, source, "-s", "1.5x2", "--preset", "fast", "--max-iterations", "2", "-o", tmp_path / "cli.png")
    assert result.output is not None and result.output.name == "zssr_x1.5x2.png"
    assert result.output.read_bytes() == (tmp_path / "cli.png").read_bytes()
    out = read_image(result.output)
    assert out.bit_depth == 16 and out.alpha is not None and out.color.shape == (36, 56, 1)


def test_web_run_with_kernel_auto_matches_the_cli_and_returns_the_kernel(tmp_path: Path) -> None:
    from skimage import data

    source = write_image(tmp_path / "in.png", data.astronaut()[:96, 160:256] / 255.0)
    options = JobOptions(scale="2", preset="kernel", kernel="auto", max_iterations=2)
    result = _run(options, source, tmp_path / "web")
    assert result.status == "done", result.message
    _cli(tmp_path, source, "-s", "2", "--preset", "kernel", "--kernel", "auto", "--max-iterations", "2", "-o",
         tmp_path / "cli.png")
    assert result.output is not None and result.output.read_bytes() == (tmp_path / "cli.png").read_bytes()
    assert result.kernel is not None and result.kernel_picture is not None and result.kernel_picture.is_file()
    assert torch.equal(load_kernel(result.kernel), load_kernel(tmp_path / "cli_kernel.mat"))
    assert "--kernel auto --estimator edges" in result.command


def test_web_run_with_a_kernel_file_matches_the_cli(tmp_path: Path) -> None:
    source = write_image(tmp_path / "in.png", _image(24, 24))
    save_kernel(gaussian_kernel(9, 1.2, 0.8, 0.3), tmp_path / "k.mat")
    kernel = admit_kernel(tmp_path / "k.mat", tmp_path, name="k.mat")
    result = _run(JobOptions(scale="2", preset="kernel", kernel="file", max_iterations=2), source, tmp_path / "web",
                  kernel_file=kernel, display_names={kernel: "k.mat"})
    assert result.status == "done", result.message
    _cli(tmp_path, source, "-s", "2", "--preset", "kernel", "--kernel", tmp_path / "k.mat", "--max-iterations", "2",
         "-o", tmp_path / "cli.png")
    assert result.output is not None and result.output.read_bytes() == (tmp_path / "cli.png").read_bytes()
    assert "--kernel k.mat" in result.command


# ----------------------------------------------------------------------------- errors: one line, no server paths


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (JobOptions(scale="0.5", max_iterations=2), "ZSSR only enlarges"),
        (JobOptions(scale="two", max_iterations=2), "scale must look like"),
        (JobOptions(scale="1.5x2", kernel="auto", max_iterations=2), "same factor on both axes"),
        (JobOptions(kernel="file", max_iterations=2), "needs a kernel file"),
    ],
)
def test_bad_options_fail_with_one_line(tmp_path: Path, options: JobOptions, expected: str) -> None:
    source = write_image(tmp_path / "in.png", _image(16, 16))
    result = _run(options, source, tmp_path / "web")
    assert result.status == "failed" and result.message.startswith("zssr: error: ") and expected in result.message
    assert "\n" not in result.message and result.output is None


def test_a_corrupt_upload_is_one_line_naming_the_visitors_file_not_the_server_path(tmp_path: Path) -> None:
    folder = tmp_path / "visitor"
    folder.mkdir()
    source = folder / UPLOAD_NAME
    source.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    result = _run(JobOptions(max_iterations=2), source, folder, display_names={source: "holiday.png"})
    assert result.status == "failed" and "\n" not in result.message
    assert result.message.startswith("zssr: error: cannot read image holiday.png")
    assert str(tmp_path) not in result.message


@pytest.mark.parametrize(
    ("fields", "error"),
    [({"preset": "sharpest"}, ConfigError), ({"kernel": "gaussian"}, KernelError), ({"max_iterations": 0}, ConfigError),
     ({"seed": -1}, ConfigError), ({"budget_seconds": 0.0}, ConfigError), ({"budget_seconds": 1e308}, ConfigError),
     ({"budget_seconds": float("inf")}, ConfigError), ({"budget_seconds": float("nan")}, ConfigError),
     ({"estimator": "magic"}, KernelError)],
)
def test_job_options_refuse_bad_values_by_name(fields: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        JobOptions(**fields)


# ----------------------------------------------------------------------------- progress and cancellation


def test_cancel_stops_the_training_thread_within_an_iteration(tmp_path: Path) -> None:
    source = write_image(tmp_path / "in.png", _image(32, 32))
    (tmp_path / "web").mkdir()
    cancel = threading.Event()
    monitor = Monitor(cancel)
    box = {}
    thread = threading.Thread(target=lambda: box.update(result=run_job(
        JobOptions(preset="ideal", max_iterations=3000), source, tmp_path / "web", device=torch.device("cpu"),
        monitor=monitor)))
    thread.start()
    deadline = time.monotonic() + 60
    while monitor.snapshot().iteration < 3 and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    cancel.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    result = box["result"]
    assert result.status == "cancelled" and result.output is None
    assert 3 <= monitor.snapshot().iteration < 3000
    assert not list((tmp_path / "web").glob("*.png"))


def test_monitor_reports_iteration_loss_rate_and_an_upper_bound_of_the_time_left() -> None:
    now = [100.0]
    monitor = Monitor(threading.Event(), clock=lambda: now[0])
    tick = monitor(0, 2, (1.5, 1.5), 100)
    for i in range(10):
        now[0] += 0.5
        tick(i, 0.25, 1e-3)
    snap = monitor.snapshot()
    assert (snap.stage, snap.step, snap.steps, snap.iteration, snap.max_iterations) == ("training", 0, 2, 10, 100)
    assert snap.loss == 0.25 and snap.learning_rate == 1e-3
    assert snap.seconds_left == pytest.approx((90 + 100) * 0.5)  # 0.5 s per iteration, this step and the next
    assert snap.elapsed == pytest.approx(5.0)
    assert isinstance(snap, Snapshot)


def test_a_cancelled_monitor_refuses_the_next_step_and_iteration() -> None:
    cancel = threading.Event()
    monitor = Monitor(cancel)
    tick = monitor(0, 1, (2.0, 2.0), 10)
    tick(0, 0.1, 1e-3)
    cancel.set()
    with pytest.raises(Exception) as first:
        tick(1, 0.1, 1e-3)
    with pytest.raises(Exception) as second:
        monitor(1, 2, (2.0, 2.0), 10)
    assert type(first.value).__name__ == type(second.value).__name__ == "_Cancelled"


def test_a_time_budget_becomes_max_iterations_within_the_presets_cap(tmp_path: Path) -> None:
    x = to_tensor(_image(24, 24))
    config = JobOptions(preset="fast").config()
    steps = [(2.0, 2.0)]
    assert budget_iterations(x, steps, config, 1e6, device=torch.device("cpu")) == config.max_iterations
    assert budget_iterations(x, steps, config, 1e-6, device=torch.device("cpu")) == 1
    # The largest budget accepted (1e308 once overflowed here into an OverflowError) is the preset's cap too.
    assert budget_iterations(x, steps, config, MAX_TIME_BUDGET, device=torch.device("cpu")) == config.max_iterations
    source = write_image(tmp_path / "in.png", _image(24, 24))
    result = _run(JobOptions(preset="fast", budget_seconds=1e-6), source, tmp_path / "web")
    assert result.status == "done" and "--max-iterations 1 " in result.command
    # Timing the iterations first draws no randomness the run itself uses: the command shown reproduces it.
    _cli(tmp_path, source, "-s", "2", "--preset", "fast", "--max-iterations", "1", "-o", tmp_path / "cli.png")
    assert result.output is not None and result.output.read_bytes() == (tmp_path / "cli.png").read_bytes()


# ----------------------------------------------------------------------------- uploads, limits and folders


def test_an_upload_is_copied_under_a_fixed_name_whatever_it_is_called(tmp_path: Path) -> None:
    upload = write_image(tmp_path / "x.png", _image(16, 16))
    folder = tmp_path / "visitor"
    folder.mkdir()
    copied = admit_image(upload, folder, Limits(), (2.0, 2.0), name="../../etc/passwd.png")
    assert copied == folder / UPLOAD_NAME and copied.read_bytes() == upload.read_bytes()
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["x.png", "visitor", UPLOAD_NAME])


@pytest.mark.parametrize(
    ("limits", "factor", "error", "text"),
    [
        (Limits(max_upload_mb=1e-4), (2.0, 2.0), ImageReadError, "this server accepts images up to 0.0001 MB"),
        (Limits(max_megapixels=1e-3), (2.0, 2.0), ShapeError, "40×50 (0.002 megapixels); this server accepts up to 0.001"),
        (Limits(max_output_megapixels=0.01), (4.0, 4.0), ShapeError, "at ×4×4 would be 0.032 megapixels"),
    ],
)
def test_size_and_megapixel_limits_are_one_line_naming_the_file(
    tmp_path: Path, limits: Limits, factor: tuple[float, float], error: type[Exception], text: str,
) -> None:
    upload = write_image(tmp_path / "x.png", _image(40, 50))
    with pytest.raises(error) as caught:
        admit_image(upload, tmp_path, limits, factor, name="photo.png")
    message = str(caught.value)
    assert message.startswith("photo.png") and "\n" not in message
    assert text in message
    assert not (tmp_path / UPLOAD_NAME).exists()


def test_the_megapixel_limit_reads_only_the_header(tmp_path: Path) -> None:
    write_image(tmp_path / "a.tif", _image(20, 30), bit_depth=16)
    write_image(tmp_path / "b.jpg", _image(21, 31))
    (tmp_path / "c.png").write_bytes(b"nothing")
    assert header_size(tmp_path / "a.tif") == (20, 30)
    assert header_size(tmp_path / "b.jpg") == (21, 31)
    assert header_size(tmp_path / "c.png") is None


def _png_header(path: Path, height: int, width: int) -> Path:
    """A PNG that is only a header (IHDR, IEND): it claims a size and holds no pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(("side", "text"), [(10_000, "10000×10000 (100 megapixels)"), (20_000, "exceeds limit")])
def test_a_huge_image_is_refused_from_its_header_before_any_decoding(tmp_path: Path, side: int, text: str) -> None:
    bomb = _png_header(tmp_path / "bomb.png", side, side)
    with pytest.raises(ShapeError) as caught:
        check_upload(bomb, Limits(), None, name="bomb.png")
    message = str(caught.value)
    assert message.startswith("bomb.png") and text in message and "this server accepts up to 4 megapixels" in message


def test_a_kernel_upload_needs_a_kernel_suffix(tmp_path: Path) -> None:
    (tmp_path / "k.exe").write_bytes(b"MZ")
    with pytest.raises(KernelError, match="must end in"):
        admit_kernel(tmp_path / "k.exe", tmp_path, name="k.exe")


def test_a_visitor_folder_is_private_and_removed_when_the_visitor_leaves(tmp_path: Path) -> None:
    visitors = Visitors(tmp_path / "root")
    a, b = visitors.get("tab-a"), visitors.get("../../tab-b")
    assert a.folder != b.folder and a.folder.parent == b.folder.parent == tmp_path / "root"
    assert visitors.get("tab-a") is a and len(visitors) == 2
    run = a.new_run_folder()
    (run / "out.png").write_bytes(b"x")
    second = a.new_run_folder()
    assert not run.exists() and second.is_dir()
    visitors.leave("tab-a")
    assert not a.folder.exists() and b.folder.is_dir() and len(visitors) == 1
    visitors.close_all()
    assert not b.folder.exists() and len(visitors) == 0


def test_leaving_mid_run_cancels_the_job_before_removing_the_folder(tmp_path: Path) -> None:
    visitors = Visitors(tmp_path / "root")
    visitor = visitors.get("tab")
    folder = visitor.new_run_folder()
    source = write_image(folder / "in.png", _image(32, 32))
    monitor = Monitor(visitor.cancel)
    thread = threading.Thread(target=run_job, args=(JobOptions(preset="ideal", max_iterations=3000), source, folder),
                              kwargs={"device": torch.device("cpu"), "monitor": monitor})
    visitor.thread = thread
    thread.start()
    while monitor.snapshot().iteration < 1 and thread.is_alive():
        time.sleep(0.01)
    assert visitor.request_cancel() == "running" or not thread.is_alive()
    visitors.leave("tab")
    assert not thread.is_alive() and not visitor.folder.exists()


def test_cancel_while_queued_marks_the_waiting_run(tmp_path: Path) -> None:
    visitor = Visitors(tmp_path).get("tab")
    assert visitor.request_cancel() == "nothing"
    visitor.waiting = True
    assert visitor.request_cancel() == "waiting" and visitor.cancel_waiting


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _folders(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


def test_visitors_are_bounded_in_count_and_the_oldest_idle_one_goes_first(tmp_path: Path) -> None:
    """Issue #30: REST callers never close a tab; 34 folders piled up. Now at most max_visitors, oldest idle evicted."""
    clock = _Clock()
    visitors = Visitors(tmp_path / "root", max_visitors=3, clock=clock)
    made = []
    for i in range(6):
        clock.now = float(i)
        made.append(visitors.get(f"rest-call-{i}"))
        (made[-1].new_run_folder() / "input").write_bytes(b"x" * 10)
    assert len(visitors) == 3 and len(_folders(tmp_path / "root")) == 3
    assert all(not v.folder.exists() for v in made[:3]) and all(v.folder.is_dir() for v in made[3:])
    clock.now = 10.0
    visitors.get("rest-call-3")  # a request makes a visitor the newest again
    visitors.get("another")
    assert visitors.find("rest-call-3") is not None and visitors.find("rest-call-4") is None


def test_visitors_are_bounded_in_total_bytes(tmp_path: Path) -> None:
    clock = _Clock()
    visitors = Visitors(tmp_path / "root", max_bytes=1000, clock=clock)
    a = visitors.get("a")
    (a.new_run_folder() / "input").write_bytes(b"x" * 800)
    clock.now = 1.0
    b = visitors.get("b")
    (b.new_run_folder() / "input").write_bytes(b"x" * 800)
    clock.now = 2.0
    assert visitors.sweep() == 1 and not a.folder.exists() and b.folder.is_dir()


def test_an_idle_visitor_is_swept_but_one_with_a_running_or_queued_job_never(tmp_path: Path) -> None:
    clock = _Clock()
    visitors = Visitors(tmp_path / "root", max_visitors=2, idle_seconds=60, clock=clock)
    running = visitors.get("running")
    release = threading.Event()
    running.thread = threading.Thread(target=release.wait)
    running.thread.start()
    try:
        queued = visitors.get("queued")
        queued.waiting = True
        idle = visitors.get("idle")  # over the count bound, but both others are busy: kept for now
        assert len(visitors) == 3 and running.folder.is_dir() and queued.folder.is_dir()
        clock.now = 30.0
        assert visitors.sweep() == 1 and not idle.folder.exists()  # the count bound, on the idle one
        clock.now = 61.0
        assert visitors.sweep() == 0 and running.folder.is_dir() and queued.folder.is_dir()  # idle age: busy stay
    finally:
        release.set()
        running.thread.join()
    queued.waiting = False
    clock.now = 200.0
    assert visitors.sweep() == 2 and len(visitors) == 0 and _folders(tmp_path / "root") == set()


def test_visitors_are_swept_periodically_until_the_server_stops(tmp_path: Path) -> None:
    visitors = Visitors(tmp_path / "root", idle_seconds=0.0)
    visitor = visitors.get("rest")
    visitors.start_sweeping(every=0.02)
    deadline = time.monotonic() + 10
    while visitor.folder.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not visitor.folder.exists() and len(visitors) == 0
    visitors.close_all()
    assert visitors._sweeper is not None
    visitors._sweeper.join(timeout=5)
    assert not visitors._sweeper.is_alive()


def test_with_auth_a_visitor_is_reached_and_removed_only_by_its_own_user(tmp_path: Path) -> None:
    """Issue #30: an unauthenticated heartbeat disconnect (no user) for a known session cancelled a user's job."""
    visitors = Visitors(tmp_path / "root")
    alice = visitors.get("session-1", "alice")
    release = threading.Event()
    alice.thread = threading.Thread(target=release.wait)
    alice.thread.start()
    try:
        visitors.leave("session-1")  # Gradio's heartbeat route: no login, so no user
        visitors.leave("session-1", "mallory")
        assert visitors.find("session-1") is None and visitors.find("session-1", "mallory") is None
        assert visitors.find("session-1", "alice") is alice and alice.folder.is_dir() and not alice.cancel.is_set()
        assert visitors.get("session-1", "mallory") is not alice  # another user's request gets its own visitor
    finally:
        release.set()
    visitors.leave("session-1", "alice")
    assert not alice.folder.exists() and alice.cancel.is_set()


@pytest.mark.parametrize(("value", "name"), [(0.5, "seed"), (2.5, "max iterations"), (float("nan"), "seed"),
                                             (float("inf"), "seed"), (True, "seed"), ("3", "seed")])
def test_a_fraction_for_a_whole_number_field_is_refused_by_name_not_rounded(value: object, name: str) -> None:
    """Issue #30: the page's API rounded seed 0.5 and 2.5 iterations silently (Gradio's precision=0)."""
    from zssr.web.job import whole_number

    with pytest.raises(ConfigError, match=f"^{name} must be a whole number, got "):
        whole_number(value, name)


def test_whole_numbers_pass_as_ints() -> None:
    from zssr.web.job import whole_number

    assert whole_number(3.0, "seed") == 3 and isinstance(whole_number(3.0, "seed"), int)
    assert whole_number(7, "seed") == 7 and whole_number(None, "seed") is None


# ----------------------------------------------------------------------------- comparison


def test_bicubic_and_zssr_previews_line_up_and_zoom_on_the_same_region(tmp_path: Path) -> None:
    color = _image(20, 30)
    source = write_image(tmp_path / "in.png", color, bit_depth=16)
    output = write_image(tmp_path / "out.png", _image(40, 60, seed=3), bit_depth=16)
    comparison = Comparison.from_files(str(source), str(output), (2.0, 2.0))
    expected = imresize(to_tensor(read_image(source).color), (2.0, 2.0), size=(40, 60)).clamp(0, 1)
    assert np.array_equal(comparison.bicubic, preview8(expected[0].permute(1, 2, 0).numpy()))
    assert comparison.bicubic.shape == comparison.zssr.shape == (40, 60, 3)
    top, left, h, w = comparison.region((39.0, 59.0), 4)  # a corner: the region stays inside the image
    assert (h, w) == (10, 10) and top + h == 40 and left + w == 60
    zb, zz = comparison.zoomed((39.0, 59.0), 4)
    k = ZOOM_VIEW // 10
    assert zb.shape == zz.shape == (10 * k, 10 * k, 3)
    assert np.array_equal(zz[::k, ::k], comparison.zssr[30:40, 50:60])
    assert np.array_equal(zb[::k, ::k], comparison.bicubic[30:40, 50:60])
    overview = comparison.overview((39.0, 59.0), 4)
    assert overview.shape == (40 * comparison.overview_factor, 60 * comparison.overview_factor, 3)


def test_gray_previews_become_rgb() -> None:
    assert preview8(np.full((2, 3, 1), 0.5, dtype=np.float32)).shape == (2, 3, 3)


# ----------------------------------------------------------------------------- the command


def test_serve_help_says_how_to_expose_the_page_and_what_it_means(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "127.0.0.1" in text and "--host 0.0.0.0" in text and "--auth USER:PASS" in text
    assert "anyone who can reach the port can upload files" in text and "SSH tunnel" in text


def test_serve_without_the_web_extra_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a))
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err == 'zssr: error: zssr serve needs the web extra: pip install "zssr[web]"\n'


@pytest.mark.parametrize(("args", "text"), [(["--auth", "nopassword"], "--auth must be USER:PASS"),
                                            (["--port", "70000"], "--port must be in"),
                                            (["--threads", "0"], "--threads must be"),
                                            (["--max-megapixels", "0"], "--max-megapixels must be a finite number > 0"),
                                            (["--max-upload-mb", "inf"], "--max-upload-mb must be a finite number > 0"),
                                            (["--threads", "100000"], "--threads 100000 is more than the")])
def test_serve_refuses_bad_options_with_one_line(args: list[str], text: str, capsys: pytest.CaptureFixture[str]) -> None:
    if importlib.util.find_spec("gradio") is None:
        pytest.skip("gradio is not installed (pip install 'zssr[web]'); the options are checked after that")
    assert cli.main(["serve", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and text in err


# ----------------------------------------------------------------------------- --host


def _free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("host", "text"), [("", "--host must be an address or host name"),
                                            ("  ", "--host must be an address or host name"),
                                            ("no-such-host.invalid", "cannot resolve this name"),
                                            ("203.0.113.7", "cannot listen on 203.0.113.7")])
def test_serve_refuses_a_host_it_cannot_listen_on_in_one_line_whatever_gradio_server_name_says(
    host: str, text: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #30: '' bound to $GRADIO_SERVER_NAME (0.0.0.0), a bad name read "Cannot find empty port"."""
    if importlib.util.find_spec("gradio") is None:
        pytest.skip("gradio is not installed (pip install 'zssr[web]'); the options are checked after that")
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    assert cli.main(["serve", "--host", host, "--port", str(_free_port())]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("zssr: error: ") and text in err


def test_check_host_brackets_ipv6_literals_and_tells_local_from_exposed() -> None:
    from zssr.cli.serve import check_host

    assert check_host("::1", _free_port("::1")) == ("[::1]", True)
    assert check_host("[::1]", 0) == ("[::1]", True)
    assert check_host("localhost", 0) == ("localhost", True)
    assert check_host("127.0.0.1", 0) == ("127.0.0.1", True)
    assert check_host("0.0.0.0", 0) == ("0.0.0.0", False)


def test_a_port_in_use_is_named_as_such() -> None:
    import socket

    from zssr.cli.serve import check_host

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"--port {port}: cannot listen on 127.0.0.1"):
            check_host("127.0.0.1", port)


def test_serve_on_ipv6_loopback_answers_there_only_even_with_gradio_server_name_set(tmp_path: Path) -> None:
    """Issue #30: --host ::1 was a 40-line httpx traceback; $GRADIO_SERVER_NAME must not widen the bind."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    if importlib.util.find_spec("gradio") is None:
        pytest.skip("gradio is not installed (pip install 'zssr[web]')")
    try:
        port = _free_port("::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "GRADIO_SERVER_NAME": "0.0.0.0", "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    server = subprocess.Popen([sys.executable, "-m", "zssr", "serve", "--host", "::1", "--port", str(port),
                               "--device", "cpu"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith(f"zssr serve: http://[::1]:{port}/ on cpu"), first + server.stderr.read()
        assert "reachable from the network" not in first
        with urllib.request.urlopen(f"http://[::1]:{port}/", timeout=30) as page:
            assert page.status == 200
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert "Traceback" not in err


def test_served_page_with_auth_keeps_a_users_job_through_an_unauthenticated_disconnect_and_refuses_fractions(
    tmp_path: Path,
) -> None:
    """Issue #30 through the real server: a cookie-less heartbeat for a logged-in user's session id used
    to cancel that user's job; the API rounded 2.5 iterations and seed 0.5. The owner's own disconnect
    still removes the visitor."""
    import os
    import signal
    import subprocess
    import sys

    if importlib.util.find_spec("gradio") is None:
        pytest.skip("gradio is not installed (pip install 'zssr[web]')")
    import httpx
    from gradio_client import Client, handle_file

    source = write_image(tmp_path / "in.png", _image(48, 48))
    port = _free_port()
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    server = subprocess.Popen([sys.executable, "-m", "zssr", "serve", "--auth", "u:p", "--port", str(port),
                               "--device", "cpu", "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env)
    try:
        assert server.stdout is not None
        first, second = server.stdout.readline(), server.stdout.readline()
        assert first.startswith("zssr serve: http://127.0.0.1:"), first + server.stderr.read()
        visitors = Path(second.split(" under ")[1].split(" (")[0]) / "visitors"
        url = f"http://127.0.0.1:{port}/"
        client = Client(url, auth=("u", "p"), verbose=False)

        def run(iterations: float, seed: float) -> str:
            return str(client.predict(handle_file(str(source)), "2", "ideal", "bicubic", None, "edges", iterations,
                                      0, seed, api_name="/run")[0])

        assert "max iterations must be a whole number, got 2.5" in run(2.5, 0)
        assert "seed must be a whole number, got 0.5" in run(3, 0.5)
        job = client.submit(handle_file(str(source)), "2", "ideal", "bicubic", None, "edges", 3000, 0, 0,
                            api_name="/run")
        deadline = time.monotonic() + 120
        while not list(visitors.glob("*/run*/input")) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # training
        with httpx.stream("GET", f"{url}gradio_api/heartbeat/{client.session_hash}", timeout=10) as stranger:
            next(stranger.iter_lines())  # connected without a login, then gone
        time.sleep(5)
        assert not job.done(), job.outputs()[-1:]
        assert not any("cancel" in str(output) for output in job.outputs())
        assert len(list(visitors.iterdir())) == 1
        client.close()  # the owner leaves: its heartbeat (with its cookie) ends
        deadline = time.monotonic() + 60
        while list(visitors.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(visitors.iterdir()) == []
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert "Traceback" not in err
