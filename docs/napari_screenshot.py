"""Take the screenshot of the napari widget shown in docs/VOLUMES.md: a cell, its ZSSR ×2, the dock widget.

    pip install '.[napari]'
    QT_QPA_PLATFORM=offscreen xvfb-run -a python docs/napari_screenshot.py   # writes docs/napari_widget.png

Opens napari with a 200×200 crop of scikit-image's ``cell`` (a phase-contrast microscopy
picture shipped in its wheel), docks the widget from the plugin's manifest, runs ×2 with the
``fast`` preset and 100 iterations in the widget's worker thread, shows input and output side by
side (napari's grid: the ×2 layer at half the pixel size covers the same extent) and shoots the
whole window. The picture is reduced to a 128-colour palette so that it stays under 150 kB.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import napari
from PIL import Image
from qtpy.QtWidgets import QApplication
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "napari_widget.png"
MAX_BYTES = 150_000


def main() -> int:
    """Run the widget once and write the screenshot; 1 when the run does not finish."""
    viewer = napari.Viewer(title="napari + zssr", show=False)
    viewer.window._qt_window.resize(1120, 640)
    cell = data.cell()[250:450, 300:500]  # the cell and its halo
    viewer.add_image(cell, name="cell", colormap="gray")
    _, widget = viewer.window.add_plugin_dock_widget("zssr", "ZSSR super-resolution")
    widget.factor.setValue(2.0)
    widget.preset.setCurrentText("fast")
    widget.iterations.setValue(100)
    widget.start()
    deadline = time.monotonic() + 900
    while widget.worker is not None and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.05)
    if widget.result is None:
        print(f"napari_screenshot: the run did not finish: {widget.status.text()}", file=sys.stderr)
        return 1
    canvas = getattr(viewer, "canvas", None)  # napari >= 0.9 keeps the grid there
    (canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid).enabled = True
    viewer.reset_view()
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    shot = viewer.screenshot(canvas_only=False, flash=False)
    image = Image.fromarray(shot).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)
    size = OUT.stat().st_size
    print(f"napari_screenshot: {OUT.relative_to(ROOT)} {image.size[0]}×{image.size[1]}, {size} bytes; "
          f"{widget.status.text()!r}")
    viewer.close()
    return 0 if size <= MAX_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
