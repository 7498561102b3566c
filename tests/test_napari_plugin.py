"""The napari dock widget, headless: a layer in, a tiny run in a worker thread, a new layer with the right scale out.

Needs napari, Qt and pytest-qt (``pip install '.[napari,test]' pytest-qt``; .ci/run does it in a
venv of its own, with ``QT_QPA_PLATFORM=offscreen``). Without napari the whole file is skipped
with that reason; tests/test_napari_manifest.py checks the manifest and the run without it.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

napari = pytest.importorskip("napari", reason="napari is not installed: pip install 'zssr[napari]' pytest-qt")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed (make_napari_viewer needs qtbot)")
npe2 = pytest.importorskip("npe2", reason="npe2 is not installed (it comes with napari)")

from pathlib import Path  # noqa: E402

from zssr.napari_plugin._widget import ZSSRWidget  # noqa: E402

MANIFEST = Path(__file__).resolve().parents[1] / "src" / "zssr" / "napari_plugin" / "napari.yaml"
#: A budget of seconds: 3 iterations on 16×16 crops, no ensemble, one back-projection.
TINY = {"crop_size": 16, "output_flip": False, "back_projection_iters": (1,)}
TIMEOUT_MS = 120_000


def _widget(viewer, factor: float, *, axis: str = "in-plane", iterations: int = 3) -> ZSSRWidget:
    widget = ZSSRWidget(viewer)
    widget.factor.setValue(factor)
    widget.axis.setCurrentIndex(widget.axis.findData(axis))
    widget.iterations.setValue(iterations)
    widget.device = "cpu"
    widget.config_overrides = dict(TINY)
    return widget


def _run_tiny(widget: ZSSRWidget, qtbot) -> None:
    """Press Run with the tiny budget and wait for the worker to finish."""
    widget.run_button.click()
    assert widget.worker is not None
    qtbot.waitUntil(lambda: widget.worker is None, timeout=TIMEOUT_MS)


def test_manifest_validates_and_names_the_widget() -> None:
    """npe2 reads napari.yaml: plugin ``zssr`` with one dock widget whose command imports."""
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    assert manifest.name == "zssr"
    widgets = manifest.contributions.widgets
    assert widgets and widgets[0].display_name == "ZSSR super-resolution"
    command = next(c for c in manifest.contributions.commands if c.id == widgets[0].command)
    assert command.python_name == "zssr.napari_plugin._widget:ZSSRWidget"


def test_plugin_is_found_through_the_entry_point() -> None:
    """The installed package registers the manifest under ``napari.manifest``: napari discovers ``zssr``."""
    pm = npe2.PluginManager.instance()
    pm.discover()
    assert pm.get_manifest("zssr").name == "zssr"


def test_widget_docks_from_the_plugin_menu(make_napari_viewer) -> None:
    """The plugin menu builds the widget from the manifest and hands it the viewer (its layers fill the list)."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zssr", "ZSSR super-resolution")
    assert isinstance(widget, ZSSRWidget)
    viewer.add_image(np.zeros((16, 16), np.float32), name="picked")
    assert widget.layer_box.currentText() == "picked"


def test_widget_on_a_2d_layer_adds_a_layer_twice_the_size_with_half_the_scale(make_napari_viewer, qtbot) -> None:
    """A 20×24 uint16 layer ×2: a new 40×48 uint16 layer, scale halved, translate by a quarter voxel."""
    viewer = make_napari_viewer()
    data = (np.random.default_rng(0).random((20, 24)) * 4000).astype(np.uint16)
    viewer.add_image(data, name="cells", scale=(0.5, 0.5))
    widget = _widget(viewer, 2.0)
    assert widget.layer_box.currentText() == "cells"
    _run_tiny(widget, qtbot)
    assert len(viewer.layers) == 2, widget.status.text()
    out = viewer.layers[-1]
    assert out.name == "cells ZSSR ×2"
    assert out.data.shape == (40, 48) and out.data.dtype == np.uint16
    np.testing.assert_allclose(out.scale, (0.25, 0.25))
    np.testing.assert_allclose(out.translate, (-0.125, -0.125))
    assert widget.status.text().startswith("done")


def test_widget_through_plane_on_a_zyx_layer_makes_voxels_isotropic(make_napari_viewer, qtbot) -> None:
    """A 4×20×20 Z×Y×X layer with scale (1, 0.5, 0.5), axis z ×2: 8×20×20, scale (0.5, 0.5, 0.5)."""
    viewer = make_napari_viewer()
    data = np.random.default_rng(1).random((4, 20, 20)).astype(np.float32)
    viewer.add_image(data, name="stack", scale=(1.0, 0.5, 0.5))
    widget = _widget(viewer, 2.0, axis="z")
    _run_tiny(widget, qtbot)
    assert len(viewer.layers) == 2, widget.status.text()
    out = viewer.layers[-1]
    assert out.data.shape == (8, 20, 20) and out.data.dtype == np.float32
    np.testing.assert_allclose(out.scale, (0.5, 0.5, 0.5))
    np.testing.assert_allclose(out.translate, (-0.25, 0.0, 0.0))


def test_widget_in_plane_on_a_zyx_layer_enlarges_every_slice(make_napari_viewer, qtbot) -> None:
    """In-plane ×2 on the same stack: 4×40×40, scale (1, 0.25, 0.25)."""
    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(2).random((4, 20, 20)).astype(np.float32), scale=(1.0, 0.5, 0.5))
    widget = _widget(viewer, 2.0)
    _run_tiny(widget, qtbot)
    out = viewer.layers[-1]
    assert out.data.shape == (4, 40, 40)
    np.testing.assert_allclose(out.scale, (1.0, 0.25, 0.25))


def test_cancel_stops_the_worker_and_adds_no_layer(make_napari_viewer, qtbot) -> None:
    """A long run cancelled after its first progress report ends in seconds, with no new layer; Run works again."""
    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(3).random((32, 32)).astype(np.float32))
    widget = _widget(viewer, 2.0, iterations=100_000)
    with qtbot.waitSignal(widget.progressed, timeout=TIMEOUT_MS):
        widget.run_button.click()
    assert widget.cancel_button.isEnabled()
    widget.cancel_button.click()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30_000)
    assert len(viewer.layers) == 1
    assert widget.status.text().startswith("cancelled")
    assert widget.run_button.isEnabled() and not widget.cancel_button.isEnabled()


def test_closing_the_widget_cancels_its_run(make_napari_viewer, qtbot) -> None:
    """A widget closed mid-run stops its worker: nothing trains on, no layer appears."""
    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(4).random((32, 32)).astype(np.float32))
    widget = _widget(viewer, 2.0, iterations=100_000)
    with qtbot.waitSignal(widget.progressed, timeout=TIMEOUT_MS):
        widget.run_button.click()
    widget.close()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30_000)
    assert len(viewer.layers) == 1


def test_a_bad_form_is_one_line_in_the_widget_and_starts_nothing(make_napari_viewer) -> None:
    """Through-plane on a 2-D layer with no factor: the widget says why; no worker starts."""
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((16, 16), np.float32))
    widget = _widget(viewer, 1.0)  # 1.0 reads as "auto": in-plane needs a factor
    widget.run_button.click()
    assert widget.worker is None
    assert widget.status.text().startswith("zssr: error: factor")
