"""The record of a folder run, kept in its output folder: what is finished, from what, and how.

``zssr-manifest.json`` holds, per output (keyed by its path relative to the folder): the
input's path, size and SHA-256, the settings (the Config as a dict, seed, scale steps,
kernel) and seed, every written file with its SHA-256, and the time, device and CPU thread
count. A re-run skips an image only when its input still has the same size and hash, the
settings are equal, and every recorded file is still there with the same hash; anything
else is redone. Identical settings are stored once under ``settings`` (by the hash of their
canonical JSON) and referenced by id, so the file grows by a few hundred bytes per image.

The file is rewritten through :mod:`zssr._atomic` after every image, so it is valid at any
moment, whatever kills the run. The runner holds :class:`FolderLock` while it writes, so two
runs cannot interleave in one folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .._atomic import STALE_AFTER_SECONDS, write_json
from .._atomic import remove_stale_temps as clear_temps
from ..errors import ZSSRError
from .work import BatchItem, Done, file_sha256

__all__ = ["MANIFEST_NAME", "FolderLock", "InputFingerprint", "Manifest", "remove_stale_temps", "settings_id"]

MANIFEST_NAME = "zssr-manifest.json"
LOCK_NAME = ".zssr-batch.lock"
FORMAT = "zssr-batch-manifest"
VERSION = 1



@dataclass(frozen=True)
class InputFingerprint:
    """An input file's size and content hash: what a finished image must have been made from."""

    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> InputFingerprint:
        """Measure ``path`` now (reads the whole file)."""
        return cls(path.stat().st_size, file_sha256(path))


def canonical(settings: Mapping[str, Any]) -> Any:
    """``settings`` as JSON would give them back (tuples become lists), for comparison."""
    return json.loads(json.dumps(settings, sort_keys=True))


def settings_id(settings: Mapping[str, Any]) -> str:
    """A short stable id of ``settings``: the SHA-256 of their canonical JSON, 16 hex digits."""
    text = json.dumps(canonical(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Manifest:
    """The manifest of one output folder, loaded once, updated and saved after every image.

    Args:
        folder: the output folder; the file is ``folder / MANIFEST_NAME``.
        data: the loaded content (``Manifest.load`` reads it).
    """

    def __init__(self, folder: Path, data: Mapping[str, Any] | None = None) -> None:
        self.folder = folder
        self.path = folder / MANIFEST_NAME
        data = data or {}
        self.settings: dict[str, Any] = dict(data.get("settings") or {})
        self.images: dict[str, dict[str, Any]] = dict(data.get("images") or {})

    @classmethod
    def load(cls, folder: Path) -> tuple[Manifest, str | None]:
        """The folder's manifest (empty if none), and a warning when an existing file was unusable."""
        path = folder / MANIFEST_NAME
        if not path.exists():
            return cls(folder), None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
                raise ValueError(f"not a version-{VERSION} {FORMAT}")
            if not isinstance(data.get("images", {}), dict) or not isinstance(data.get("settings", {}), dict):
                raise ValueError("'images' and 'settings' must be objects")
        except (OSError, ValueError) as exc:
            return cls(folder), f"{path} is unreadable ({exc}); every image will be redone and the file rewritten"
        return cls(folder, data), None

    def key(self, target: Path) -> str:
        """The manifest key of an output: its path relative to the folder (POSIX), else absolute."""
        try:
            return target.resolve().relative_to(self.folder.resolve()).as_posix()
        except ValueError:
            return str(target.resolve())

    def is_done(self, item: BatchItem, fingerprint: InputFingerprint, settings: Mapping[str, Any]) -> bool:
        """Whether ``item`` finished earlier from the same input bytes and settings, its files intact."""
        entry = self.images.get(self.key(item.target))
        if not isinstance(entry, dict) or entry.get("status") != "done":
            return False
        if entry.get("input_size") != fingerprint.size or entry.get("input_sha256") != fingerprint.sha256:
            return False
        if entry.get("settings") != settings_id(settings) or self.settings.get(entry["settings"]) != canonical(settings):
            return False
        files = entry.get("files")
        if not isinstance(files, dict) or self.key(item.target) not in files:
            return False
        for name, digest in files.items():
            path = self.folder / name if not os.path.isabs(name) else Path(name)
            try:
                if not path.is_file() or file_sha256(path) != digest:
                    return False
            except OSError:
                return False
        return True

    def _base(self, item: BatchItem, fingerprint: InputFingerprint, settings: Mapping[str, Any]) -> dict[str, Any]:
        ident = settings_id(settings)
        self.settings[ident] = canonical(settings)
        return {
            "input": str(item.source.resolve()), "input_size": fingerprint.size, "input_sha256": fingerprint.sha256,
            "settings": ident, "seed": settings.get("seed"), "output": self.key(item.target),
        }

    def record_done(self, event: Done, fingerprint: InputFingerprint, settings: Mapping[str, Any]) -> None:
        """Record a finished image (its files and their hashes); call :meth:`save` to persist."""
        entry = self._base(event.item, fingerprint, settings)
        files = {self.key(Path(path)): digest for path, digest in event.files}
        entry.update(
            status="done", output_sha256=files.get(self.key(event.item.target)), files=files,
            seconds=round(event.seconds, 3), device=event.device, threads=event.threads, finished=_now(),
        )
        self.images[entry["output"]] = entry

    def record_failed(
        self, item: BatchItem, fingerprint: InputFingerprint | None, settings: Mapping[str, Any], message: str,
    ) -> None:
        """Record a failed image (redone by the next run); call :meth:`save` to persist."""
        entry = self._base(item, fingerprint or InputFingerprint(-1, ""), settings)
        entry.update(status="failed", error=message, finished=_now())
        self.images[entry["output"]] = entry

    def save(self) -> None:
        """Rewrite the file atomically, dropping settings no image refers to any more."""
        used = {entry.get("settings") for entry in self.images.values()}
        payload = {
            "format": FORMAT, "version": VERSION, "updated": _now(),
            "settings": {k: v for k, v in self.settings.items() if k in used},
            "images": self.images,
        }
        write_json(self.path, payload, what="batch manifest")


class FolderLock:
    """An exclusive ``flock`` on ``folder/.zssr-batch.lock`` while a batch writes into ``folder``.

    The kernel drops the lock when the process dies (even by SIGKILL), so a killed run never
    blocks the next one (only a killed run leaves the empty lock file behind). Where ``fcntl``
    is missing (Windows) this is a no-op.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ZSSRError(
                f"another zssr run is writing to {self.path.parent} (it holds {self.path}); "
                "wait for it to finish or use another --out-dir"
            ) from None
        self._fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()  # still held: a finished run leaves only complete outputs behind
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def remove_stale_temps(paths: Iterable[Path], *, older_than: float = STALE_AFTER_SECONDS) -> list[Path]:
    """Remove the atomic writer's leftover temps of ``paths`` (a killed run's, not a live writer's); return them.

    :func:`zssr._atomic.remove_stale_temps` per folder, limited to these outputs' names;
    ``older_than=0`` where the writer is known to be gone (its worker died).
    """
    by_folder: dict[Path, set[str]] = {}
    for path in paths:
        by_folder.setdefault(Path(path).parent, set()).add(Path(path).name)
    removed: list[Path] = []
    for folder, names in by_folder.items():
        removed += clear_temps(folder, older_than=older_than, targets=names)
    return removed
