"""Per-visitor folders and upload checks for ``zssr serve``.

Every browser tab is one visitor with its own folder under the server's temporary root
(named by a random token, never by anything the browser sends); uploads are copied in
under fixed names (``input``, ``kernel.mat``), so a file called ``../../etc/passwd`` is
only ever a label on the page. The folder goes when the visitor leaves (the page's unload
event), all of them when the server stops.

Uploads are checked before any decoding beyond the header: the file size, then the
input and output megapixels (a 20 MB PNG can hold a 1-gigapixel image).
"""

from __future__ import annotations

import shutil
import threading
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import tifffile
from PIL import Image

from .._atomic import one_line
from ..errors import ImageReadError, KernelError, ShapeError
from ..io.complaints import decoder_complaints_held_back
from .job import KERNEL_SUFFIXES, Monitor

__all__ = ["Limits", "Visitor", "Visitors", "admit_image", "admit_kernel", "check_upload", "header_size"]

#: Fixed name of the uploaded image inside a visitor's folder (the format is read from the content).
UPLOAD_NAME = "input"
#: Largest kernel file accepted (a 1025×1025 text kernel is about 20 MB; no real one comes close).
MAX_KERNEL_BYTES = 4 * 2**20


@dataclass(frozen=True)
class Limits:
    """What one upload may be; ``zssr serve`` options set them.

    Attributes:
        max_upload_mb: the file size, in MB (10**6 bytes).
        max_megapixels: the input's height × width, in millions of pixels.
        max_output_megapixels: the output's height × width (input × factors), in millions of pixels.
    """

    max_upload_mb: float = 25.0
    max_megapixels: float = 4.0
    max_output_megapixels: float = 16.0


def header_size(path: Path) -> tuple[int, int] | None:
    """``(height, width)`` from the file's header only, or None if the header cannot be read.

    Raises:
        ShapeError: the header names an image past Pillow's decompression-bomb limit.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
        if head[:2] in (b"II", b"MM"):
            with decoder_complaints_held_back(replay=False), tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                return int(page.imagelength), int(page.imagewidth)  # type: ignore[union-attr]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limits below decide
            with Image.open(path) as image:
                width, height = image.size
                return int(height), int(width)
    except Image.DecompressionBombError as exc:
        raise ShapeError(one_line(exc)) from None
    except Exception:  # a corrupt file: read_image gives the one-line reason later
        return None


def check_upload(upload: Path, limits: Limits, factor: tuple[float, float] | None, *, name: str) -> None:
    """Check an uploaded image's file size and, from its header only, its input and output megapixels.

    Args:
        upload: the file the web framework stored.
        limits: the server's limits.
        factor: the final ``(vertical, horizontal)`` factor, for the output size (None: not checked).
        name: the name the visitor gave the file (messages only).

    Raises:
        ImageReadError: over the size limit.
        ShapeError: over a megapixel limit.
    """
    size = upload.stat().st_size
    if size > limits.max_upload_mb * 1e6:
        raise ImageReadError(f"{name} is {size / 1e6:.1f} MB; this server accepts images up to {limits.max_upload_mb:g} MB")
    try:
        hw = header_size(upload)
    except ShapeError as exc:
        raise ShapeError(f"{name}: {exc}; this server accepts up to {limits.max_megapixels:g} megapixels") from None
    if hw is None:  # not an image header: read_image gives the reason
        return
    megapixels = hw[0] * hw[1] / 1e6
    if megapixels > limits.max_megapixels:
        raise ShapeError(f"{name} is {hw[0]}×{hw[1]} ({megapixels:.3g} megapixels); this server accepts up to "
                         f"{limits.max_megapixels:g} megapixels")
    if factor is not None:
        out = hw[0] * factor[0] * hw[1] * factor[1] / 1e6
        if out > limits.max_output_megapixels:
            raise ShapeError(f"{name} at ×{factor[0]:g}×{factor[1]:g} would be {out:.3g} megapixels; this server makes "
                             f"outputs up to {limits.max_output_megapixels:g} megapixels (choose a smaller factor)")


def admit_image(upload: Path, folder: Path, limits: Limits, factor: tuple[float, float], *, name: str) -> Path:
    """Copy an uploaded image into ``folder`` as :data:`UPLOAD_NAME` once :func:`check_upload` passes.

    Raises:
        ImageReadError: over the size limit.
        ShapeError: over a megapixel limit.
    """
    check_upload(upload, limits, factor, name=name)
    target = folder / UPLOAD_NAME
    shutil.copyfile(upload, target)
    return target


def admit_kernel(upload: Path, folder: Path, *, name: str) -> Path:
    """Copy an uploaded kernel into ``folder`` as ``kernel<suffix>`` (its suffix picks the loader).

    Raises:
        KernelError: a suffix other than .mat/.npy/.txt/.csv, or over :data:`MAX_KERNEL_BYTES`.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in KERNEL_SUFFIXES:
        raise KernelError(f"kernel file {name} must end in {', '.join(KERNEL_SUFFIXES)}, got {suffix or 'no suffix'!r}")
    size = upload.stat().st_size
    if size > MAX_KERNEL_BYTES:
        raise KernelError(f"kernel file {name} is {size / 1e6:.1f} MB; kernels are at most {MAX_KERNEL_BYTES / 1e6:g} MB")
    target = folder / f"kernel{suffix}"
    shutil.copyfile(upload, target)
    return target


@dataclass
class Visitor:
    """One browser tab: its folder, its current run and the flags its buttons set.

    Attributes:
        folder: the visitor's own folder (removed by :meth:`close`).
        cancel: set by Cancel; the running job's :class:`~zssr.web.job.Monitor` checks it.
        waiting: a run was requested and waits in the queue.
        cancel_waiting: Cancel was pressed while the run waited: it ends as soon as it starts.
        monitor: the running job's monitor, if any.
        thread: the running job's thread, if any.
        runs: runs started so far (names each run's subfolder).
        closed: the visitor left (a late request gets a new visitor).
        comparison: the last run's :class:`~zssr.web.compare.Comparison`.
        center: the zoom region's centre ``(y, x)`` picked on the page (None: the middle).
    """

    folder: Path
    cancel: threading.Event = field(default_factory=threading.Event)
    waiting: bool = False
    cancel_waiting: bool = False
    monitor: Monitor | None = None
    thread: threading.Thread | None = None
    runs: int = 0
    closed: bool = False
    comparison: object | None = None
    center: tuple[float, float] | None = None

    def new_run_folder(self) -> Path:
        """A fresh, empty folder for the next run; the previous run's files are removed."""
        previous = self.folder / f"run{self.runs}"
        shutil.rmtree(previous, ignore_errors=True)
        self.runs += 1
        path = self.folder / f"run{self.runs}"
        path.mkdir(parents=True)
        return path

    def request_cancel(self) -> str:
        """Cancel the running job, or the one waiting in the queue; returns what was cancelled."""
        if self.thread is not None and self.thread.is_alive():
            self.cancel.set()
            return "running"
        if self.waiting:
            self.cancel_waiting = True
            return "waiting"
        return "nothing"

    def close(self) -> None:
        """Stop the job (if any) and remove the folder once it has stopped."""
        self.closed = True
        self.cancel.set()
        thread = self.thread
        if thread is not None and thread.is_alive():
            thread.join(timeout=30.0)
        shutil.rmtree(self.folder, ignore_errors=True)


class Visitors:
    """The server's visitors by session, each with a folder under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._by_session: dict[str, Visitor] = {}

    def get(self, session: str) -> Visitor:
        """The visitor of ``session``, created (with a fresh folder) on first use."""
        with self._lock:
            visitor = self._by_session.get(session)
            if visitor is None or visitor.closed:
                folder = self.root / uuid.uuid4().hex
                folder.mkdir(parents=True)
                visitor = self._by_session[session] = Visitor(folder)
            return visitor

    def leave(self, session: str) -> None:
        """The visitor of ``session`` left: stop its job and remove its folder."""
        with self._lock:
            visitor = self._by_session.pop(session, None)
        if visitor is not None:
            visitor.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_session)

    def close_all(self) -> None:
        """Server shutdown: every visitor leaves."""
        with self._lock:
            sessions = list(self._by_session)
        for session in sessions:
            self.leave(session)
