"""Per-visitor folders and upload checks for ``zssr serve``.

Every browser tab is one visitor with its own folder under the server's temporary root
(named by a random token, never by anything the browser sends); uploads are copied in
under fixed names (``input``, ``kernel.mat``), so a file called ``../../etc/passwd`` is
only ever a label on the page. The folder goes when the visitor leaves (the page's unload
event), all of them when the server stops.

Not every visitor leaves: a REST call (the page's own ``curl`` snippet) is a visitor of
its own that never closes a tab. So the folders are also bounded while the server runs:
at most :data:`MAX_VISITORS` visitors, :data:`MAX_VISITOR_BYTES` in all, each removed
after :data:`IDLE_SECONDS` without a request; the oldest idle visitor goes first, and one
whose job runs or waits in the queue is never removed. Sweeps run on each new visitor and
every :data:`SWEEP_SECONDS`.

With ``--auth``, a visitor belongs to the user who opened it: visitors are found by
(user, session), so a request of another user, or an unauthenticated one (Gradio's
heartbeat route takes no login), never reaches, cancels or removes it.

Uploads are checked before any decoding beyond the header: the file size, then the
input and output megapixels (a 20 MB PNG can hold a 1-gigapixel image).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tifffile
from PIL import Image

from .._atomic import one_line
from ..errors import ImageReadError, KernelError, ShapeError
from ..io.complaints import decoder_complaints_held_back
from .job import KERNEL_SUFFIXES, Monitor

__all__ = [
    "IDLE_SECONDS", "MAX_VISITORS", "MAX_VISITOR_BYTES", "Limits", "Visitor", "Visitors", "admit_image", "admit_kernel",
    "check_upload", "header_size",
]

#: Fixed name of the uploaded image inside a visitor's folder (the format is read from the content).
UPLOAD_NAME = "input"
#: Largest kernel file accepted (a 1025×1025 text kernel is about 20 MB; no real one comes close).
MAX_KERNEL_BYTES = 4 * 2**20
#: Visitors kept at once (the oldest idle one makes room for a new one).
MAX_VISITORS = 32
#: Bytes in all visitors' folders (inputs ≤ 25 MB and outputs ≤ 16 megapixels by default: ~100 MB a run).
MAX_VISITOR_BYTES = 2 * 2**30
#: Seconds without a request after which a visitor (not running or queued) is removed.
IDLE_SECONDS = 30 * 60.0
#: Seconds between two periodic sweeps.
SWEEP_SECONDS = 60.0


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
        last_seen: when the visitor last made a request (the clock of its :class:`Visitors`).
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
    last_seen: float = 0.0

    @property
    def busy(self) -> bool:
        """A job runs, or a run waits in the queue: never swept away."""
        return self.waiting or (self.thread is not None and self.thread.is_alive())

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


def _folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (0 for a folder already gone)."""
    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except OSError:
                pass
    return total


class Visitors:
    """The server's visitors by (user, session), each with a folder under ``root``, bounded (see the module).

    Args:
        root: where the visitors' folders are made.
        max_visitors: visitors kept at once.
        max_bytes: bytes in all their folders.
        idle_seconds: a visitor without a request for this long is removed.
        clock: seconds, monotonic (injectable for tests).
    """

    def __init__(self, root: Path, *, max_visitors: int = MAX_VISITORS, max_bytes: int = MAX_VISITOR_BYTES,
                 idle_seconds: float = IDLE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.root = root
        self.max_visitors, self.max_bytes, self.idle_seconds = max_visitors, max_bytes, idle_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._by_session: dict[tuple[str | None, str], Visitor] = {}
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def get(self, session: str, user: str | None = None) -> Visitor:
        """The visitor of ``session`` opened by ``user``, created (with a fresh folder) on first use.

        A new visitor first sweeps: idle ones past :attr:`idle_seconds`, then the oldest idle
        ones while the count or the bytes are over their bounds.
        """
        key = (user, session)
        with self._lock:
            visitor = self._by_session.get(key)
            if visitor is not None and not visitor.closed:
                visitor.last_seen = self._clock()
                return visitor
        self.sweep(room=1)
        with self._lock:
            visitor = self._by_session.get(key)
            if visitor is None or visitor.closed:
                folder = self.root / uuid.uuid4().hex
                folder.mkdir(parents=True)
                visitor = self._by_session[key] = Visitor(folder)
            visitor.last_seen = self._clock()
            return visitor

    def find(self, session: str, user: str | None = None) -> Visitor | None:
        """The visitor of ``session`` opened by ``user`` if there is one (none is created)."""
        with self._lock:
            visitor = self._by_session.get((user, session))
            if visitor is None or visitor.closed:
                return None
            visitor.last_seen = self._clock()
            return visitor

    def leave(self, session: str, user: str | None = None) -> None:
        """The visitor of ``session`` opened by ``user`` left: stop its job and remove its folder."""
        with self._lock:
            visitor = self._by_session.pop((user, session), None)
        if visitor is not None:
            visitor.close()

    def sweep(self, room: int = 0) -> int:
        """Remove idle visitors: past :attr:`idle_seconds`, then oldest first while over the bounds.

        Args:
            room: visitors about to be added (counted against :attr:`max_visitors`).

        Returns:
            how many visitors were removed. Busy ones (:attr:`Visitor.busy`) are never removed,
            so the bounds can be exceeded while every visitor over them is busy.
        """
        now = self._clock()
        with self._lock:
            idle = sorted((item for item in self._by_session.items() if not item[1].busy),
                          key=lambda item: item[1].last_seen)
            evict = [key for key, visitor in idle if now - visitor.last_seen > self.idle_seconds]
            kept = [key for key, _ in idle if key not in evict]
            count = len(self._by_session) - len(evict)
            sizes = {key: _folder_bytes(v.folder) for key, v in self._by_session.items() if key not in evict}
            total = sum(sizes.values())
            for key in kept:  # oldest first
                if count + room <= self.max_visitors and total <= self.max_bytes:
                    break
                evict.append(key)
                count, total = count - 1, total - sizes[key]
            gone = [self._by_session.pop(key) for key in evict]
            for visitor in gone:
                visitor.closed = True  # a request racing this sweep gets a new visitor
        for visitor in gone:
            visitor.close()
        return len(gone)

    def start_sweeping(self, every: float = SWEEP_SECONDS) -> None:
        """Sweep every ``every`` seconds on a daemon thread, until :meth:`close_all`."""
        def loop() -> None:
            while not self._stop.wait(every):
                self.sweep()

        self._sweeper = threading.Thread(target=loop, name="zssr-visitor-sweeper", daemon=True)
        self._sweeper.start()

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_session)

    def close_all(self) -> None:
        """Server shutdown: the sweeps stop and every visitor leaves."""
        self._stop.set()
        with self._lock:
            keys = list(self._by_session)
        for user, session in keys:
            self.leave(session, user)
