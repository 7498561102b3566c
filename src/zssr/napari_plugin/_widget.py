"""The dock widget: a form over :func:`~zssr.napari_plugin._run.run_layer`, run in a worker thread.

Why a thread: training takes seconds to minutes and napari's event loop must keep drawing;
napari's :func:`~napari.qt.threading.create_worker` runs the call off the GUI thread, progress
comes back through a Qt signal (queued onto the GUI thread), and Cancel sets the event that
the run's progress callbacks check at every iteration and plane. The result is added as a new
layer whose ``scale`` and ``translate`` put it over the input.

Imports napari and Qt: only napari loads this module (``napari.yaml``).
"""

from __future__ import annotations

import threading
from typing import Any, cast

import napari
import napari.layers
from napari.qt.threading import create_worker
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..config import PRESETS
from ..errors import ZSSRError
from ..scales import MAX_SCALE
from ._run import (
    AXIS_CHOICES,
    KERNEL_CHOICES,
    Cancelled,
    KernelChoice,
    LayerResult,
    Progress,
    Update,
    WidgetOptions,
    run_layer,
)

__all__ = ["ZSSRWidget"]

_AXIS_LABELS = {"in-plane": "in-plane (Y, X)", "z": "z (through-plane)"}


class ZSSRWidget(QWidget):
    """ZSSR on the chosen image layer: factor, axis, preset, kernel, iterations; Run and Cancel.

    Args:
        napari_viewer: the viewer (napari passes it by this name).
    """

    #: One :class:`~zssr.napari_plugin._run.Update`, emitted from the worker thread.
    progressed = Signal(object)

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker: Any = None
        #: The device and further Config fields of the runs (scripts and tests set them; the form does not).
        self.device = "auto"
        self.config_overrides: dict[str, Any] = {}
        self.result: LayerResult | None = None
        self._cancel = threading.Event()

        self.layer_box = QComboBox()
        self.factor = QDoubleSpinBox()
        self.factor.setRange(1.0, float(MAX_SCALE))
        self.factor.setSingleStep(0.5)
        self.factor.setDecimals(2)
        self.factor.setSpecialValueText("auto (voxel sizes)")  # shown at 1.0: through-plane reads the factor
        self.factor.setValue(2.0)
        self.axis = QComboBox()
        for choice in AXIS_CHOICES:
            self.axis.addItem(_AXIS_LABELS[choice], choice)
        self.preset = QComboBox()
        self.preset.addItems(sorted(PRESETS))
        self.preset.setCurrentText("fast")
        self.kernel = QComboBox()
        self.kernel.addItems(list(KERNEL_CHOICES))
        self.kernel_file = QLineEdit()
        self.kernel_file.setPlaceholderText("kernel file (.mat, .npy, .txt, .csv)")
        self.browse = QPushButton("…")
        self.iterations = QSpinBox()
        self.iterations.setRange(0, 1_000_000)
        self.iterations.setSpecialValueText("preset's")  # 0: the preset's max_iterations
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        kernel_row = QHBoxLayout()
        kernel_row.addWidget(self.kernel_file)
        kernel_row.addWidget(self.browse)
        form = QFormLayout()
        form.addRow("layer", self.layer_box)
        form.addRow("factor", self.factor)
        form.addRow("axis", self.axis)
        form.addRow("preset", self.preset)
        form.addRow("kernel", self.kernel)
        form.addRow("", kernel_row)
        form.addRow("iterations", self.iterations)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.browse.clicked.connect(self._browse)
        self.kernel.currentTextChanged.connect(self._kernel_changed)
        self.progressed.connect(self._show)
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed,
                      self.viewer.layers.events.reordered):
            event.connect(self._refresh_layers)
        self._refresh_layers()
        self._kernel_changed(self.kernel.currentText())

    # -- the form --------------------------------------------------------------------------------

    def _image_layers(self) -> list[napari.layers.Image]:
        return [layer for layer in self.viewer.layers if isinstance(layer, napari.layers.Image)]

    def _refresh_layers(self, event: Any = None) -> None:
        current = self.layer_box.currentText()
        names = [layer.name for layer in self._image_layers()]
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItems(names)
        active = self.viewer.layers.selection.active
        if current in names:
            self.layer_box.setCurrentText(current)
        elif isinstance(active, napari.layers.Image):
            self.layer_box.setCurrentText(active.name)
        self.layer_box.blockSignals(False)

    def _kernel_changed(self, text: str) -> None:
        self.kernel_file.setEnabled(text == "file")
        self.browse.setEnabled(text == "file")

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Kernel file", "", "Kernels (*.mat *.npy *.txt *.csv)")
        if path:
            self.kernel_file.setText(path)

    def options(self) -> WidgetOptions:
        """The form as :class:`~zssr.napari_plugin._run.WidgetOptions` (raises a ZSSRError when wrong)."""
        factor = float(self.factor.value())
        return WidgetOptions(
            factor=None if factor <= 1.0 else factor, axis=self.axis.currentData(), preset=self.preset.currentText(),
            kernel=cast(KernelChoice, self.kernel.currentText()), kernel_file=self.kernel_file.text().strip() or None,
            iterations=self.iterations.value() or None, config_overrides=dict(self.config_overrides),
        )

    def layer(self) -> napari.layers.Image | None:
        """The chosen image layer, if any."""
        name = self.layer_box.currentText()
        return next((layer for layer in self._image_layers() if layer.name == name), None)

    # -- the run ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Run ZSSR on the chosen layer in a worker thread (the Run button)."""
        if self.worker is not None:
            return
        layer = self.layer()
        if layer is None:
            self.status.setText("zssr: error: choose an image layer")
            return
        if layer.multiscale:
            self.status.setText("zssr: error: a multiscale layer is not supported; add its full-resolution level")
            return
        try:
            options = self.options()
        except ZSSRError as exc:
            self.status.setText(f"zssr: error: {exc}")
            return
        self._cancel = threading.Event()
        progress = Progress(self.progressed.emit, self._cancel)
        self.result = None
        self.worker = create_worker(
            _outcome, layer.data, options=options, rgb=bool(layer.rgb), scale=tuple(layer.scale),
            translate=tuple(layer.translate), progress=progress, device=self.device,
            _start_thread=False,
        )
        self.worker.returned.connect(lambda result: self._returned(layer, result))
        self.worker.errored.connect(self._errored)
        self.worker.finished.connect(self._finished)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.bar.setRange(0, 0)  # busy until the first report
        self.status.setText(f"running on {layer.name!r}…")
        self.worker.start()

    def cancel(self) -> None:
        """Stop the run at its next iteration or plane (the Cancel button); nothing is added."""
        # The run's progress callbacks check the event (worker.quit() would only drop its result signal).
        self._cancel.set()
        if self.worker is not None:
            self.status.setText("cancelling…")

    def closeEvent(self, event: Any) -> None:
        """A closed widget cancels its run: nothing trains on for a widget no one sees."""
        self._cancel.set()
        super().closeEvent(event)

    def _show(self, update: Update) -> None:
        if update.total > 0:
            self.bar.setRange(0, update.total)
            self.bar.setValue(min(update.done, update.total))
        self.status.setText(update.text)

    def _returned(self, source: napari.layers.Image, outcome: LayerResult | str) -> None:
        if isinstance(outcome, str):
            self.status.setText(outcome)
            return
        result = self.result = outcome
        kwargs: dict[str, Any] = {"rgb": bool(source.rgb)}
        if not source.rgb:
            kwargs.update(colormap=source.colormap.name, contrast_limits=tuple(source.contrast_limits))
        self.viewer.add_image(result.data, name=f"{source.name} ZSSR {result.label}", scale=result.scale,
                              translate=result.translate, blending=source.blending, **kwargs)
        lines = [f"done in {result.seconds:.1f} s: {result.label}, shape {result.data.shape}"]
        lines += [f"warning: {w}" for w in result.warnings]
        self.status.setText("\n".join(lines))

    def _errored(self, exc: BaseException) -> None:
        # Not a ZSSRError: a bug, which napari also shows with its traceback.
        self.status.setText(f"zssr: error: {type(exc).__name__}: {exc}")

    def _finished(self) -> None:
        self.worker = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(0 if self.result is None else 1)


def _outcome(*args: Any, **kwargs: Any) -> LayerResult | str:
    """:func:`run_layer` in the worker, a cancel or a user error as the status line it ends with.

    Why: an exception leaving a napari worker is shown as a traceback; a cancel or a bad
    layer is not a bug, so it comes back as one line, as the CLI would print it.
    """
    try:
        return run_layer(*args, **kwargs)
    except Cancelled:
        return "cancelled: nothing was added"
    except ZSSRError as exc:
        return f"zssr: error: {exc}"
