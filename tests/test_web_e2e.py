"""``zssr serve`` end to end in a real headless browser: Playwright driving Debian's Chromium.

One server (``python -m zssr serve`` on a free localhost port, 1 torch thread, a 0.01-megapixel
input limit so the limit is testable with a small file) serves every test; each test opens
its own tab(s), i.e. its own visitor. Images are 32×32, runs 3 iterations. The page must
never load anything from outside 127.0.0.1.

Skipped, with the reason, where Gradio (``pip install "zssr[web]"``), Playwright or
Chromium (``apt-get install chromium``; ``.ci/run`` installs it, the browser Playwright
would download is not used) is missing; CI has all three.
"""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from zssr.io import read_image, write_image

CHROMIUM = os.environ.get("ZSSR_CHROMIUM", "/usr/bin/chromium")
SRC = Path(__file__).resolve().parents[1] / "src"

pytest.importorskip("gradio", reason='needs the web extra: pip install "zssr[web]"')
sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright (pip install playwright; in the test extra)")
if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
    pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)",
                allow_module_level=True)

pytestmark = pytest.mark.slow
RUN_TIMEOUT_MS = 90_000


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    planes = [sum(np.cos(2 * np.pi * (fy * y + fx * x) + p) for (fy, fx), p in
                  zip(rng.uniform(1, 4, (3, 2)), rng.uniform(0, 6, 3))) for _ in range(3)]
    image = np.stack(planes, axis=-1)
    return ((image - image.min()) / (image.max() - image.min())).astype(np.float32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


class Server:
    """A ``zssr serve`` subprocess; ``url`` and ``root`` (its temporary folder) from its first lines."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zssr", "serve", "--port", str(_free_port()), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.url, self.root = "", Path()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (self.url and self.root.name):
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if m := re.match(r"zssr serve: (http://\S+) on ", line):
                self.url = m.group(1)
            if m := re.match(r"zssr serve: visitors' files under (\S+) ", line):
                self.root = Path(m.group(1))
        if not self.url:
            self.stop()
            raise RuntimeError("zssr serve did not start:\n" + "".join(self.log))

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)
            self.lines.put(line)

    def visitor_folders(self) -> list[Path]:
        folder = self.root / "visitors"
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server("--threads", "1", "--device", "cpu", "--max-megapixels", "0.01")
    yield srv
    srv.stop()
    # Stopping the server removes every visitor's files (and Gradio's upload cache inside the root).
    assert not srv.root.exists(), f"{srv.root} left behind"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture()
def context(browser: object) -> Iterator[object]:
    """A browser context that records every request leaving 127.0.0.1 (there must be none)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)  # type: ignore[attr-defined]
    outside: list[str] = []
    ctx.on("request", lambda r: outside.append(r.url)
           if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    yield ctx
    ctx.close()
    assert outside == [], f"the page loaded from outside this machine: {outside}"


def _open(context: object, server: Server, image: Path | None = None, *, iterations: int = 3, seed: int = 0) -> object:
    page = context.new_page()  # type: ignore[attr-defined]
    page.goto(server.url)
    page.wait_for_selector("#zssr-run")
    if image is not None:
        page.set_input_files("#zssr-upload input[type=file]", str(image))
        page.wait_for_function("/×|zssr: error/.test(document.querySelector('#zssr-info').innerText)")
    page.fill("#zssr-iterations input", str(iterations))
    page.fill("#zssr-seed input", str(seed))
    return page


def _record_progress(page: object) -> None:
    """Keep every text the progress element shows (it is replaced several times a second)."""
    page.evaluate("""() => {
        window.__progress = [];
        const target = document.querySelector('#zssr-progress');
        new MutationObserver(() => window.__progress.push(target.innerText.trim()))
            .observe(target, {childList: true, subtree: true, characterData: true});
    }""")  # type: ignore[attr-defined]


def _select_preset(page: object, name: str) -> None:
    page.click("#zssr-preset input")  # type: ignore[attr-defined]
    page.get_by_role("option", name=name, exact=True).click()  # type: ignore[attr-defined]


def test_run_shows_progress_compares_and_downloads_the_bytes_of_zssr_upscale(
    server: Server, context: object, tmp_path: Path,
) -> None:
    source = write_image(tmp_path / "in.png", _image(32, 32), bit_depth=16)
    page = _open(context, server, source, iterations=3, seed=7)
    assert "32×32, RGB, 16-bit" in page.inner_text("#zssr-info")
    _record_progress(page)
    page.click("#zssr-run")
    page.wait_for_selector("#zssr-download", state="visible", timeout=RUN_TIMEOUT_MS)
    seen = page.evaluate("window.__progress")
    assert len(seen) >= 2 and "done at iteration 3/3 of step 1/1" in seen[-1], seen
    assert "32×32 → 64×64, preset fast, 3 iterations" in page.inner_text("#zssr-status")
    command = page.input_value("#zssr-command textarea")
    assert command == "zssr upscale IN -s 2 --preset fast --seed 7 --max-iterations 3 --device cpu --threads 1 -o zssr_x2.png"

    # compare: both sides of the slider, the curves, and a zoom that follows a click on the overview
    page.wait_for_function("document.querySelectorAll('#zssr-slider img').length == 2")
    assert page.locator("#zssr-curves img").count() == 1
    zoom_before = page.get_attribute("#zssr-zoom img >> nth=1", "src")
    box = page.locator("#zssr-overview img").bounding_box()
    page.locator("#zssr-overview img").click(position={"x": 3, "y": box["height"] - 3})  # the bottom-left corner
    page.wait_for_function("(before) => document.querySelectorAll('#zssr-zoom img')[1].src != before", arg=zoom_before)

    with page.expect_download() as download:
        page.click("#zssr-download")
    got = tmp_path / download.value.suggested_filename
    download.value.save_as(got)
    subprocess.run([sys.executable, "-m", "zssr", "upscale", str(source), "-s", "2", "--preset", "fast", "--seed", "7",
                    "--max-iterations", "3", "--device", "cpu", "--threads", "1", "-q", "-o", str(tmp_path / "cli.png")],
                   check=True, env=_env(), capture_output=True)
    assert got.name == "zssr_x2.png" and got.read_bytes() == (tmp_path / "cli.png").read_bytes()
    assert read_image(got).bit_depth == 16
    assert page.locator("#zssr-download-kernel").is_hidden()


def test_kernel_auto_shows_the_estimated_kernel_and_offers_it_for_download(
    server: Server, context: object, tmp_path: Path,
) -> None:
    from skimage import data

    from zssr.kernels import load_kernel

    source = write_image(tmp_path / "face.png", data.astronaut()[:96, 160:256] / 255.0)  # edges need >= 84 px
    page = _open(context, server, source, iterations=2)
    page.click("#zssr-kernel label:has-text('auto')")
    page.wait_for_function("document.querySelector('#zssr-preset input').value == 'kernel'")  # as the CLI picks
    page.click("#zssr-run")
    page.wait_for_selector("#zssr-download-kernel", state="visible", timeout=RUN_TIMEOUT_MS)
    assert page.locator("#zssr-kernel-picture img").count() == 1
    assert "--preset kernel" in page.input_value("#zssr-command textarea")
    assert "--kernel auto --estimator edges" in page.input_value("#zssr-command textarea")
    with page.expect_download() as download:
        page.click("#zssr-download-kernel")
    got = tmp_path / download.value.suggested_filename
    download.value.save_as(got)
    assert got.name == "zssr_x2_kernel.mat" and float(load_kernel(got).sum()) == pytest.approx(1.0)


def test_a_corrupt_upload_is_one_line_on_the_page(server: Server, context: object, tmp_path: Path) -> None:
    bad = tmp_path / "holiday.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    page = _open(context, server, bad)
    info = page.inner_text("#zssr-info").strip()
    assert info.startswith("zssr: error: cannot read image holiday.png") and "\n" not in info
    page.click("#zssr-run")
    page.wait_for_function("document.querySelector('#zssr-status').innerText.includes('zssr: error')")
    status = page.inner_text("#zssr-status").strip()
    assert status.startswith("zssr: error: cannot read image holiday.png") and "\n" not in status
    body = page.inner_text("body")
    assert "Traceback" not in body and str(server.root) not in body


def test_an_image_over_the_megapixel_limit_is_refused_with_one_line(server: Server, context: object, tmp_path: Path) -> None:
    big = write_image(tmp_path / "big.png", _image(128, 128))
    page = _open(context, server, big)
    assert page.inner_text("#zssr-info").strip().startswith("zssr: error: big.png is 128×128")  # said on upload
    page.click("#zssr-run")
    page.wait_for_function("document.querySelector('#zssr-status').innerText.includes('zssr: error')")
    status = page.inner_text("#zssr-status").strip()
    assert status == ("zssr: error: big.png is 128×128 (0.0164 megapixels); this server accepts up to 0.01 megapixels")


def test_cancel_stops_a_run_and_a_second_tab_waits_in_the_queue_for_its_own_job(
    server: Server, context: object, tmp_path: Path,
) -> None:
    source = write_image(tmp_path / "in.png", _image(32, 32))
    first = _open(context, server, source, iterations=3000)
    _select_preset(first, "ideal")
    second = _open(context, server, source, iterations=3)
    first.click("#zssr-run")
    iteration = "Number((document.querySelector('#zssr-progress [data-iteration]') || {dataset: {}}).dataset.iteration || 0)"
    first.wait_for_function(f"{iteration} >= 2", timeout=RUN_TIMEOUT_MS)
    seen = first.evaluate(iteration)
    first.wait_for_function(f"{iteration} > {seen}")  # live: the iteration keeps moving
    assert re.search(r"iteration \d+/3000 · loss [\d.]+ · lr [\d.e+-]+ · at most \d+ s left", first.inner_text("#zssr-progress"))

    second.click("#zssr-run")
    second.wait_for_function("document.body.innerText.includes('queue:')")  # Gradio's queue position
    second.click("#zssr-cancel")  # cancelled while queued: it ends, untrained, when its turn comes
    second.wait_for_function("document.body.innerText.includes('will end, untrained, when its turn comes')")
    first.click("#zssr-cancel")
    first.wait_for_function("document.querySelector('#zssr-progress').innerText.startsWith('cancelled')")
    assert "cancelled: the run was stopped" in first.inner_text("#zssr-status")
    assert first.locator("#zssr-download").is_hidden()
    second.wait_for_function("document.querySelector('#zssr-status').innerText.includes('cancelled before it started')")
    # The device is free again: the second tab runs its own job, with its own options.
    second.click("#zssr-run")
    second.wait_for_selector("#zssr-download", state="visible", timeout=RUN_TIMEOUT_MS)
    assert "3 iterations" in second.inner_text("#zssr-status")
    assert first.locator("#zssr-download").is_hidden()


def test_a_visitors_folder_is_removed_when_the_tab_closes(server: Server, context: object, tmp_path: Path) -> None:
    source = write_image(tmp_path / "in.png", _image(24, 24))
    before = set(server.visitor_folders())
    page = _open(context, server, source, iterations=2)
    page.click("#zssr-run")
    page.wait_for_selector("#zssr-download", state="visible", timeout=RUN_TIMEOUT_MS)
    mine = set(server.visitor_folders()) - before
    assert len(mine) == 1
    page.close(run_before_unload=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(p.exists() for p in mine):
        time.sleep(0.2)
    assert not any(p.exists() for p in mine)
