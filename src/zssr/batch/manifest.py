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

A loaded file is checked against one schema (:data:`ENTRY_FIELDS`): an entry with anything
unexpected (a missing or extra field, a wrong type, settings that are not there or whose id
is not their hash) is dropped, so its image is redone, with one warning; a file that is not
a version-1 manifest at all (not JSON, nested past Python's limits) counts as empty. A path
that cannot be a manifest (a folder, a pipe, unreadable) stops the run before any training.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .._atomic import STALE_AFTER_SECONDS, write_json
from .._atomic import remove_stale_temps as clear_temps
from ..errors import ImageReadError, ZSSRError
from ..io.paths import read_regular
from .work import BatchItem, Done, file_digest, file_sha256

__all__ = ["MANIFEST_NAME", "FolderLock", "InputFingerprint", "Manifest", "remove_stale_temps", "settings_id"]

MANIFEST_NAME = "zssr-manifest.json"
LOCK_NAME = ".zssr-batch.lock"
FORMAT = "zssr-batch-manifest"
VERSION = 1

_SHA256 = re.compile(r"[0-9a-f]{64}")
_SETTINGS_ID = re.compile(r"[0-9a-f]{16}")
#: The deepest nesting a stored settings object may have (a Config is 3 levels deep).
MAX_SETTINGS_DEPTH = 16


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_hex_digest(value: Any) -> bool:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def _is_files(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(
        isinstance(name, str) and name and _is_hex_digest(digest) for name, digest in value.items())


#: Every field of an entry, and the test its value must pass: per status, nothing more, nothing less.
_COMMON: dict[str, Any] = {
    "input": lambda v: isinstance(v, str),
    "input_size": lambda v: _is_int(v) and v >= -1,  # -1: a failed input that could not be read
    "input_sha256": lambda v: v == "" or _is_hex_digest(v),
    "settings": lambda v: isinstance(v, str) and _SETTINGS_ID.fullmatch(v) is not None,
    "seed": lambda v: _depth(v, 4) <= 4,  # copied from the task's settings: any small JSON value
    "output": lambda v: isinstance(v, str),
    "status": lambda v: v in ("done", "failed"),
    "finished": lambda v: isinstance(v, str),
}
ENTRY_FIELDS: dict[str, dict[str, Any]] = {
    "done": {
        **_COMMON,
        "output_sha256": lambda v: v is None or _is_hex_digest(v),
        "files": _is_files,
        "seconds": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0,
        "device": lambda v: isinstance(v, str),
        "threads": lambda v: _is_int(v) and v >= 1,
    },
    "failed": {**_COMMON, "error": lambda v: isinstance(v, str)},
}


def _depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests lists and objects, counted without recursion up to ``limit + 1``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _valid_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The stored settings that are objects of sane depth filed under their own id."""
    kept = {}
    for ident, value in raw.items():
        if isinstance(value, dict) and _depth(value, MAX_SETTINGS_DEPTH) <= MAX_SETTINGS_DEPTH:
            try:
                if settings_id(value) == ident:
                    kept[ident] = value
            except (ValueError, TypeError):  # pragma: no cover - parsed JSON always dumps again
                continue
    return kept


def _entry_problem(key: str, entry: Any, settings: Mapping[str, Any]) -> str | None:
    """Why ``entry`` (under ``key``) is not one this version writes, or None when it is."""
    if not isinstance(entry, dict):
        return f"{key!r} is a {type(entry).__name__}, not an object"
    status = entry.get("status")
    fields = ENTRY_FIELDS.get(status) if isinstance(status, str) else None
    if fields is None:
        return f"{key!r} has no valid status"
    missing = sorted(set(fields) - set(entry))
    extra = sorted(set(entry) - set(fields))
    if missing or extra:
        names = ", ".join(map(ascii, missing or extra))  # field names are untrusted text: escaped, one line
        return f"{key!r} " + ("lacks " if missing else "has unknown fields ") + names
    wrong = [name for name, test in fields.items() if not test(entry[name])]
    if wrong:
        return f"{key!r} has a malformed {', '.join(wrong)}"
    if entry["output"] != key:
        return f"{key!r} names another output"
    if entry["settings"] not in settings:
        return f"{key!r} refers to settings that are not stored (or not valid)"
    if entry["status"] == "done" and key not in entry["files"]:
        return f"{key!r} does not list its output among its files"
    return None



@dataclass(frozen=True)
class InputFingerprint:
    """An input file's size and content hash: what a finished image must have been made from."""

    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> InputFingerprint:
        """Measure ``path`` now (reads the whole file; a pipe or a device is refused before any read)."""
        return cls(*file_digest(path, what="input"))


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
        """The folder's manifest (empty if none), and one warning when some or all of it was unusable.

        Every entry is checked against :data:`ENTRY_FIELDS`; what fails is dropped (its image
        is redone). A file that is not a manifest at all counts as empty.

        Raises:
            ZSSRError: the path cannot hold a manifest (a folder, a pipe, a device) or cannot be
                read (permissions): said before any work, since the run could not record it.
        """
        path = folder / MANIFEST_NAME
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:  # none yet (or a dangling link, which the first save replaces)
            return cls(folder), None
        except OSError as exc:
            raise ZSSRError(f"cannot read batch manifest {path}: {exc.strerror or exc}; "
                            "move it away or use another --out-dir") from exc
        if not stat.S_ISREG(mode):
            raise ZSSRError(f"batch manifest {path} is {'a folder' if stat.S_ISDIR(mode) else 'a special file'}, "
                            "not a file; move it away or use another --out-dir")
        try:
            text = read_regular(path, what="batch manifest").decode("utf-8")
        except ImageReadError as exc:
            raise ZSSRError(f"{exc}; move it away or use another --out-dir") from exc
        except UnicodeDecodeError:
            text = ""
        redo = f"every image will be redone and {path} rewritten"
        try:
            data = json.loads(text)
        except RecursionError:
            return cls(folder), f"{path} is not a manifest (nested too deeply to read); {redo}"
        except ValueError as exc:
            return cls(folder), f"{path} is not a manifest (not JSON: {exc}); {redo}"
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            return cls(folder), f"{path} is not a version-{VERSION} {FORMAT}; {redo}"
        images, settings = data.get("images", {}), data.get("settings", {})
        if not isinstance(images, dict) or not isinstance(settings, dict):
            return cls(folder), f"{path} is not a manifest ('images' and 'settings' must be objects); {redo}"
        settings = _valid_settings(settings)
        kept, problems = {}, []
        for key, entry in images.items():
            problem = _entry_problem(key, entry, settings)
            if problem is None:
                kept[key] = entry
            else:
                problems.append(problem)
        manifest = cls(folder, {"settings": settings, "images": kept})
        if not problems:
            return manifest, None
        return manifest, (f"{path}: {len(problems)} of {len(images)} entries are not valid ({problems[0]}"
                          + (f", and {len(problems) - 1} more" if len(problems) > 1 else "")
                          + "); their images will be redone and the file rewritten")

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
            except (OSError, ZSSRError):
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
