"""Regression tests of issue #30's causes 1, 3, 4 and 6 (folder runs hardened).

What they prove: a manifest is checked against one schema on load, so a malformed or foreign
entry is redone with one warning and never crashes a save, a manifest nested past Python's
limits counts as empty, and a manifest path that is a folder or a pipe stops the run before any
image; a named pipe, ``/dev/zero``, a folder or a dangling link among the inputs is one line
per image within seconds (never read); temp names fit the file system's name limit, so a
251-byte output name and a 240-byte input name work, and the write probe fails before any
training where they would not; the manifest records the hash of the bytes an image was
trained on, so an input replaced during the run is redone once the old file is back; Ctrl-C
names a manifest only once one exists. Most tests use a copying task (no training); the
end-to-end ones train 16-pixel crops for one iteration.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import zssr._atomic as atomic
import zssr.cli as cli
from zssr.batch import MANIFEST_NAME, BatchItem, TaskResult, run_batch
from zssr.batch.manifest import Manifest
from zssr.task import UpscaleTask
from zssr.config import resolve_config
from zssr.errors import ImageReadError, ImageWriteError, ZSSRError
from zssr.io import read_image, read_regular, write_image
from zssr.io.volume import is_volume_file

TINY = ["-s", "2", "--preset", "fast", "--max-iterations", "1", "--set", "crop_size=16", "--device", "cpu",
        "--threads", "1", "-q"]
SETTINGS = {"command": "copy", "seed": 0}
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"),
                                reason="needs named pipes and /dev/zero (POSIX)")


@dataclass(frozen=True)
class CopyTask:
    """Copies the input's bytes to the output, read once: a task without training, for the runner's rules."""

    def __call__(self, item: BatchItem, device: torch.device, progress: object) -> TaskResult:
        data = read_regular(item.source)
        atomic.write_bytes(item.target, data, what="copy")
        return TaskResult(files=(item.target,), line=f"{item.target}: copied",
                          source_digest=(len(data), hashlib.sha256(data).hexdigest()))


@dataclass(frozen=True)
class InterruptedTask:
    """Ctrl-C during the first image."""

    def __call__(self, item: BatchItem, device: torch.device, progress: object) -> TaskResult:
        raise KeyboardInterrupt


def _image(path: Path, seed: int = 0, side: int = 24) -> Path:
    rng = np.random.default_rng(seed)
    write_image(path, rng.random((side, side, 3)).astype(np.float32), bit_depth=8)
    return path


def _items(inputs: Path, out: Path) -> list[BatchItem]:
    return [BatchItem(p, out / p.name) for p in sorted(inputs.iterdir())]


def _run(items: list[BatchItem], out: Path, **kwargs: object) -> tuple[object, str]:
    err = io.StringIO()
    report = run_batch(items, CopyTask(), settings=SETTINGS, folder=out, progress=False, out=io.StringIO(), err=err,
                       **kwargs)  # type: ignore[arg-type]
    return report, err.getvalue()


def _manifest(out: Path) -> dict:
    return json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- cause 1: the manifest's schema
def test_manifest_entries_outside_the_schema_are_redone_with_one_warning_and_never_crash_a_save(tmp_path: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    for i in range(4):
        _image(inputs / f"im{i}.png", seed=i)
    items = _items(inputs, out)
    report, _ = _run(items, out)
    assert len(report.done) == 4  # type: ignore[attr-defined]
    data = _manifest(out)
    images = data["images"]
    images["im0.png"]["settings"] = [1]  # the issue's case: settings a list
    images["im1.png"]["extra"] = True  # a field this version never writes
    images["im2.png"]["files"] = {"im2.png": "not a hash"}
    images["zzz.png"] = "x"  # a foreign entry
    images["yyy.png"] = {"status": []}  # an unhashable status (found by fuzzing Manifest.load)
    data["settings"]["0123456789abcdef"] = {"forged": 1}  # an id that is not its hash
    (out / MANIFEST_NAME).write_text(json.dumps(data), encoding="utf-8")

    report, err = _run(items, out)
    warnings = [line for line in err.splitlines() if line.startswith("zssr: warning:")]
    assert len(warnings) == 1 and "5 of 6 entries are not valid" in warnings[0], err
    assert sorted(i.source.name for i in report.done) == ["im0.png", "im1.png", "im2.png"]  # type: ignore[attr-defined]
    assert [i.source.name for i in report.skipped] == ["im3.png"]  # type: ignore[attr-defined]
    manifest, warning = Manifest.load(out)
    assert warning is None and sorted(manifest.images) == ["im0.png", "im1.png", "im2.png", "im3.png"]
    assert list(_manifest(out)["settings"]) == [next(iter(manifest.settings))]

    report, err = _run(items, out)  # the folder is not stuck: everything is done now
    assert len(report.skipped) == 4 and "warning" not in err  # type: ignore[attr-defined]


def test_manifest_field_names_with_line_breaking_characters_still_give_one_warning_line(tmp_path: Path) -> None:
    """Found by CI's fuzzing (stop 31): an unknown field named ``c±\\x1c…`` was printed raw, and ``\\x1c`` is a
    line break to ``str.splitlines`` -- the warning became two lines, one not starting ``zssr:``."""
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    _image(inputs / "a.png")
    items = _items(inputs, out)
    _run(items, out)
    data = _manifest(out)
    data["images"]["a.png"]["c\u00b1\x1c\U0009b5fb!\n\u2028x"] = [1]
    data["images"]["b\x1d\r.png"] = {"status": "done", "\x0b": 1}
    (out / MANIFEST_NAME).write_text(json.dumps(data), encoding="utf-8")
    report, err = _run(items, out)
    assert [line.startswith("zssr: warning:") for line in err.splitlines()] == [True], err
    assert "entries are not valid" in err and len(report.done) == 1  # type: ignore[attr-defined]


def test_manifest_nested_past_the_recursion_limit_or_garbage_counts_as_empty_with_one_warning(tmp_path: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    _image(inputs / "a.png")
    out.mkdir()
    for text in ("[" * 100_000, "{" + '"a":{' * 50_000, "\udcff garbage"):
        (out / MANIFEST_NAME).write_bytes(text.encode("utf-8", "surrogateescape"))
        report, err = _run(_items(inputs, out), out, overwrite=True)
        assert [line.startswith("zssr: warning:") for line in err.splitlines()] == [True], err
        assert len(report.done) == 1 and Manifest.load(out)[1] is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_manifest_path_that_is_a_folder_or_a_pipe_stops_the_run_before_any_image(tmp_path: Path, kind: str) -> None:
    if kind == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("needs named pipes")
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    _image(inputs / "a.png")
    out.mkdir()
    (out / MANIFEST_NAME).mkdir() if kind == "folder" else os.mkfifo(out / MANIFEST_NAME)
    start = time.monotonic()
    with pytest.raises(ZSSRError, match="not a file; move it away or use another --out-dir"):
        _run(_items(inputs, out), out)
    assert time.monotonic() - start < 10 and not (out / "a.png").exists()


def test_ctrl_c_before_anything_was_recorded_names_no_manifest(tmp_path: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    _image(inputs / "a.png")

    err = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        run_batch(_items(inputs, out), InterruptedTask(), settings=SETTINGS, folder=out, progress=False, err=err)
    assert "no manifest written yet" in err.getvalue() and MANIFEST_NAME not in err.getvalue()
    assert not (out / MANIFEST_NAME).exists()


# ----------------------------------------------------------------------------- cause 3: special files are never read
def _special_files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "fifo.png")
    (folder / "zero.png").symlink_to("/dev/zero")
    (folder / "dir.png").mkdir()
    (folder / "dangling.png").symlink_to(folder / "nowhere.png")
    return [folder / name for name in ("dangling.png", "dir.png", "fifo.png", "zero.png")]


@needs_fifo
def test_fifo_device_folder_and_dangling_link_inputs_fail_in_one_line_each_within_seconds(tmp_path: Path) -> None:
    specials = _special_files(tmp_path / "in")
    _image(tmp_path / "in" / "ok.png")
    out = tmp_path / "out"
    start = time.monotonic()
    report, err = _run(_items(tmp_path / "in", out), out)
    assert time.monotonic() - start < 10
    assert [i.source.name for i in report.done] == ["ok.png"]  # type: ignore[attr-defined]
    failed = [line for line in err.splitlines() if line.startswith("zssr: failed:")]
    assert len(failed) == 4 and all("not a regular file" in line or "broken symbolic link" in line for line in failed)
    for path in specials:  # and every reader refuses them before reading a byte
        assert not is_volume_file(path)
        with pytest.raises(ImageReadError):
            read_image(path)


@needs_fifo
def test_folder_run_of_the_cli_reports_each_special_file_and_upscales_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _special_files(tmp_path / "in")
    _image(tmp_path / "in" / "ok.png")
    start = time.monotonic()
    code = cli.main(["upscale", str(tmp_path / "in"), "--out-dir", str(tmp_path / "out"), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - start < 60
    assert err.count("zssr: failed:") == 4 and "Traceback" not in err and (tmp_path / "out" / "ok.png").is_file()


@needs_fifo
def test_a_pipe_named_as_a_stack_is_one_line_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "stack.tif")
    start = time.monotonic()
    code = cli.main(["upscale", str(tmp_path / "stack.tif"), "--axis", "z", "-o", str(tmp_path / "x.tif"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "named pipe" in err and time.monotonic() - start < 30


# ----------------------------------------------------------------------------- cause 4: long names
def test_temp_names_fit_the_name_limit_and_stale_ones_are_still_found(tmp_path: Path) -> None:
    for name in ("x" * 251 + ".png", "é" * 126 + ".png", "a.png"):
        temp = atomic.temp_name(name, 255)
        assert len(os.fsencode(temp)) <= 255 and atomic.TEMP_NAME.match(temp), temp
        (tmp_path / temp).write_bytes(b"left by a killed run")
        assert atomic.remove_stale_temps(tmp_path, older_than=0.0, targets=[name]) == [tmp_path / temp]


def test_write_probe_uses_a_name_as_long_as_the_real_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file system that claims more than it takes: the probe, not the write after training, finds out.
    monkeypatch.setattr(atomic, "name_max", lambda folder: 400)
    atomic.check_writable(tmp_path)
    with pytest.raises(ImageWriteError, match="cannot write to output folder"):
        atomic.check_writable(tmp_path, names=["x" * 300 + ".png"])
    assert list(tmp_path.iterdir()) == []


def test_a_251_byte_output_name_is_written_and_a_longer_one_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _image(tmp_path / "a.png")
    target = tmp_path / ("x" * 247 + ".png")
    assert cli.main(["upscale", str(source), "-o", str(target), *TINY]) == 0, capsys.readouterr().err
    assert read_image(target).color.shape[:2] == (48, 48)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    start = time.monotonic()
    code = cli.main(["upscale", str(source), "-o", str(tmp_path / ("x" * 252 + ".png")), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and "its file name is 256 bytes long" in err and err.count("\n") == 1
    assert time.monotonic() - start < 30


def test_a_240_byte_input_name_runs_in_a_folder_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    name = "y" * 236 + ".png"
    _image(inputs / name)
    code = cli.main(["upscale", str(inputs), "--out-dir", str(tmp_path / "out"), *TINY, "--save-curves"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / name).is_file() and (tmp_path / "out" / ("y" * 236 + "_curves.png")).is_file()
    assert _manifest(tmp_path / "out")["images"][name]["status"] == "done"


# ----------------------------------------------------------------------------- cause 6: the hash of the bytes trained on
def test_manifest_records_the_hash_of_the_bytes_trained_on_so_a_restored_input_is_redone(tmp_path: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    source = _image(inputs / "a.png", seed=1)
    old = source.read_bytes()
    _image(tmp_path / "b.png", seed=2)
    new = (tmp_path / "b.png").read_bytes()
    config = resolve_config("fast", max_iterations=1, crop_size=16)
    task = UpscaleTask(steps=((2.0, 2.0),), config=config, kernels=(None,), seed=0)
    items = [BatchItem(source, out / "a.png")]

    def replace_after_hashing(item: BatchItem) -> None:  # runs after the run was planned (and hashed)
        source.write_bytes(new)

    def run(precheck: object = None) -> object:
        return run_batch(items, task, settings=task.settings(), folder=out, progress=False, out=io.StringIO(),
                         err=io.StringIO(), precheck=precheck)  # type: ignore[arg-type]

    assert len(run(replace_after_hashing).done) == 1  # type: ignore[attr-defined]
    entry = _manifest(out)["images"]["a.png"]
    assert entry["input_sha256"] == hashlib.sha256(new).hexdigest() and entry["input_size"] == len(new)
    source.write_bytes(old)  # the old file is back: its output was never made, so it is redone
    report = run()
    assert len(report.done) == 1 and not report.skipped  # type: ignore[attr-defined]
    assert _manifest(out)["images"]["a.png"]["input_sha256"] == hashlib.sha256(old).hexdigest()
