"""Long benchmark runs survive being stopped (issue #27).

A killed ``zssr bench`` and the same command again redo no scored image and score every image as
an uninterrupted run does; a run folder whose result JSONs were committed without their PNGs (a
fresh checkout) resumes too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from skimage import data as skdata

from zssr.bench import MethodInput, MethodOutput, run_benchmark
from zssr.bench.runner import machine
from zssr.io import to_array, to_tensor, write_image
from zssr.resize import imresize

# A budget long enough (a second or so per image on 1 thread) to stop the run between two images.
SHORT_ZSSR = "zssr:preset=fast,max_iterations=60,crop_size=32"


@pytest.fixture(scope="module")
def three_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small natural RGB images, 64-70 px."""
    folder = tmp_path_factory.mktemp("resume") / "three"
    folder.mkdir()
    crops = {
        "astro": skdata.astronaut()[100:164, 150:214],
        "coffee": skdata.coffee()[100:170, 200:266],
        "chelsea": skdata.chelsea()[60:124, 100:164],
    }
    for name, pixels in crops.items():
        write_image(folder / f"{name}.png", pixels.astype(np.float32) / 255.0)
    return folder


def _bench(folder: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "zssr", "bench", "--quiet", "--device", "cpu", "--dataset", str(folder),
            "--method", SHORT_ZSSR, "--seeds", "2", "--out", str(out)]


def _env() -> dict[str, str]:
    # One torch thread in every process: the same seed then gives the same bits (README, "Use").
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _scores(out: Path) -> dict[str, tuple[float, float]]:
    records = json.loads((out / "results.json").read_text(encoding="utf-8"))["records"]
    return {f"{r['image']}_seed{r['seed']}": (r["psnr"], r["ssim"]) for r in records}


def _results(out: Path) -> dict[Path, tuple[int, int]]:
    """Each scored image's JSON and its (inode, mtime): a redone image gets a new file."""
    found = {}
    for path in (out / "runs").rglob("*.json"):
        st = path.stat()
        found[path] = (st.st_ino, st.st_mtime_ns)
    return found


@pytest.mark.slow
def test_a_killed_bench_run_rerun_redoes_no_scored_image_and_scores_like_an_uninterrupted_run(
    three_images: Path, tmp_path: Path
) -> None:
    """SIGKILL between two images, then the same command: the scored ones stay, the rest match a whole run."""
    if sys.platform == "win32":
        pytest.skip("needs POSIX signals")
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    run = subprocess.Popen(_bench(three_images, stopped), env=_env(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not _results(stopped) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(run.pid, signal.SIGKILL)  # a kill, not a Ctrl-C: nothing gets to clean up
        run.wait(timeout=30)
    finally:
        run.kill()
    before = _results(stopped)
    assert 1 <= len(before) < 6, f"the run must be stopped between images; {len(before)} of 6 were scored"

    again = subprocess.run(_bench(three_images, stopped), env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    after = _results(stopped)
    assert len(after) == 6
    assert {p: after[p] for p in before} == before  # no scored image was redone

    fresh = subprocess.run(_bench(three_images, whole), env=_env(), capture_output=True, text=True, timeout=600)
    assert fresh.returncode == 0, fresh.stderr
    assert _scores(stopped) == _scores(whole)  # bit-identical PSNR/SSIM per image and seed


class _Bicubic:
    """A custom method that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: MethodInput) -> MethodOutput:
        self.calls += 1
        return MethodOutput(sr=to_array(imresize(to_tensor(request.lr), request.scale)))


def test_result_jsons_without_their_pngs_resume_as_scored_and_keep_the_figure(three_images: Path, tmp_path: Path) -> None:
    """A fresh checkout holds only the committed JSONs of a long run: nothing is redone."""
    method = _Bicubic()
    first = run_benchmark([three_images], out=tmp_path, methods=["mine"], registry={"mine": method})
    assert method.calls == 3
    for png in (tmp_path / "runs").rglob("*.png"):
        png.unlink()
    (tmp_path / "figure_three.png").unlink()
    second = run_benchmark([three_images], out=tmp_path, methods=["mine"], registry={"mine": method})
    assert method.calls == 3 and second.resumed == 3
    assert [(r.image, r.psnr, r.ssim) for r in second.records] == [(r.image, r.psnr, r.ssim) for r in first.records]
    assert (tmp_path / "figure_three.png").is_file()  # drawn with the outputs it still has


def test_every_result_records_the_machine_it_ran_on(three_images: Path, tmp_path: Path) -> None:
    """Seconds per image are compared only between runs on one machine, so each JSON names it."""
    run_benchmark([three_images], out=tmp_path, methods=["mine"], registry={"mine": _Bicubic()}, limit=1)
    (path,) = (tmp_path / "runs").rglob("*.json")
    recorded = json.loads(path.read_text(encoding="utf-8"))["machine"]
    assert recorded == machine() and recorded["cpu"] and int(recorded["torch_threads"]) >= 1
    assert json.loads(path.read_text(encoding="utf-8"))["config"] is None  # a custom method: no Config to compare


def _one_zssr_run(folder: Path, out: Path) -> tuple[Path, int]:
    """Score one image with the short ZSSR row; its JSON and how many images ran (not resumed)."""
    result = run_benchmark([folder], out=out, methods=[SHORT_ZSSR], limit=1, device="cpu")
    (path,) = (out / "runs").rglob("*.json")
    return path, result.ran


def test_a_record_whose_preset_has_changed_since_is_run_again_and_an_older_record_resumes(
    three_images: Path, tmp_path: Path
) -> None:
    """A row resumes by label *and* by the Config it ran with: a redefined preset must not reuse old results.

    Records from before configs were kept (no ``config``) and fields Config has gained or lost
    since are no difference (the committed long runs stay valid).
    """
    path, ran = _one_zssr_run(three_images, tmp_path)
    assert ran == 1
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["config"]["max_iterations"] == 60 and data["config"]["crop_size"] == 32

    def rerun_after(edit: Callable[[dict[str, Any]], None]) -> int:
        changed = json.loads(json.dumps(data))
        edit(changed["config"])
        path.write_text(json.dumps(changed), encoding="utf-8")
        return _one_zssr_run(three_images, tmp_path)[1]

    assert rerun_after(lambda c: c.update(max_iterations=61)) == 1  # the preset's value changed: run again
    assert rerun_after(lambda c: c.update(a_field_config_has_lost=1)) == 0
    assert rerun_after(lambda c: c.pop("learning_rate")) == 0  # a field Config has gained since
    data.pop("config")
    path.write_text(json.dumps(data), encoding="utf-8")
    assert _one_zssr_run(three_images, tmp_path)[1] == 0  # a record from before configs were kept
