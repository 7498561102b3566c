"""Take the two screenshots of ``zssr serve`` shown in the README: mid-run and the comparison.

    PYTHONPATH=src python docs/web_screenshots.py        # writes docs/web_running.png, docs/web_compare.png

Starts ``zssr serve`` on a free localhost port, opens it in Debian's Chromium through
Playwright (``apt-get install chromium``; ``pip install playwright "zssr[web]"``), uploads a
128×128 crop of scikit-image's astronaut, runs ×2 with ``--kernel auto`` (preset kernel, 200
iterations), shoots the page while it trains, then the comparison once it is done. Each
picture is reduced to a 256-colour palette so it stays under 400 kB.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("ZSSR_CHROMIUM", "/usr/bin/chromium")
MAX_BYTES = 400_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _shrink(path: Path) -> int:
    """Rewrite ``path`` with a 256-colour palette; returns its size in bytes."""
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path.stat().st_size


def main() -> int:
    """Start the server, take both screenshots, stop the server."""
    from playwright.sync_api import sync_playwright
    from skimage import data

    from zssr.io import write_image

    work = Path(tempfile.mkdtemp(prefix="zssr-shots-"))
    source = write_image(work / "astronaut.png", data.astronaut()[20:148, 170:298] / 255.0)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    server = subprocess.Popen([sys.executable, "-m", "zssr", "serve", "--port", str(_free_port())],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert server.stdout is not None
        url = ""
        for line in server.stdout:
            if m := re.match(r"zssr serve: (http://\S+) on ", line):
                url = m.group(1)
                break
        if not url:
            raise SystemExit("zssr serve did not start")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_selector("#zssr-run")
            page.set_input_files("#zssr-upload input[type=file]", str(source))
            page.wait_for_function("/×/.test(document.querySelector('#zssr-info').innerText)")
            page.click("#zssr-kernel label:has-text('auto')")
            page.fill("#zssr-iterations input", "200")
            page.click("#zssr-run")
            page.wait_for_function(
                "Number((document.querySelector('#zssr-progress [data-iteration]') || {dataset: {}}).dataset.iteration"
                " || 0) >= 40", timeout=300_000)
            page.wait_for_selector("#zssr-kernel-picture img")
            page.evaluate("window.scrollTo(0, 0)")
            time.sleep(0.5)
            running = ROOT / "docs" / "web_running.png"
            page.screenshot(path=str(running))
            page.wait_for_selector("#zssr-download", state="visible", timeout=600_000)
            page.set_viewport_size({"width": 1280, "height": 2400})  # everything in view: clip in page coordinates
            page.evaluate("window.scrollTo(0, 0)")
            box = page.locator("#zssr-overview img").bounding_box()
            assert box is not None
            page.locator("#zssr-overview img").click(position={"x": box["width"] * 0.45, "y": box["height"] * 0.35})
            time.sleep(1.5)
            page.evaluate("window.scrollTo(0, 0)")
            top = page.locator("#zssr-status").bounding_box()
            bottom = page.locator("#zssr-zoom").bounding_box()
            assert top is not None and bottom is not None
            compare = ROOT / "docs" / "web_compare.png"
            page.screenshot(path=str(compare), clip={"x": top["x"], "y": top["y"], "width": top["width"],
                                                     "height": bottom["y"] + bottom["height"] - top["y"]})
            browser.close()
        for path in (running, compare):
            size = _shrink(path)
            print(f"{path.relative_to(ROOT)}: {size / 1000:.0f} kB")
            if size > MAX_BYTES:
                raise SystemExit(f"{path} is {size} bytes, over {MAX_BYTES}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
