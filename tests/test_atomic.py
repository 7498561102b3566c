"""The one atomic writer (``zssr._atomic``): complete files or none, never a temp left behind."""

from __future__ import annotations

import errno
import io
import os
import stat
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from zssr._atomic import atomic_write, say, write_bytes, write_text
from zssr.errors import ImageWriteError


def test_the_file_appears_complete_and_nothing_else_is_left(tmp_path: Path) -> None:
    write_text(tmp_path / "report.md", "# héllo\n")
    write_bytes(tmp_path / "blob.bin", b"\x00\x01")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.bin", "report.md"]
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == "# héllo\n"


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def full_disk(handle: BinaryIO) -> None:
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(ImageWriteError, match=r"^cannot write report .*out\.txt: \[Errno 28\] No space left on device$"):
        atomic_write(target, full_disk, what="report")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_an_interrupt_removes_the_temp_and_propagates(tmp_path: Path) -> None:
    def interrupted(handle: BinaryIO) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "x.png", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_outputs_get_the_umask_permissions_not_mkstemps_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.md", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.md").stat().st_mode) == 0o644


def test_a_missing_folder_is_one_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError, match="cannot write file"):
        write_text(tmp_path / "missing" / "a.md", "x")


# ----------------------------------------------------------------------------- issue 16: nothing left behind


def test_an_interrupt_right_after_the_temp_is_created_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C between the temp's creation and the writer learning its name (the old 0-byte leftover)."""
    real_open = os.open

    def create_then_interrupt(path: str | os.PathLike[str], flags: int, *args: object, **kwargs: object) -> int:
        descriptor = real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]
        if str(path).endswith(".tmp"):
            os.close(descriptor)
            raise KeyboardInterrupt
        return descriptor

    monkeypatch.setattr(os, "open", create_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_text(tmp_path / "out.txt", "x")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_only_old_unlocked_temps_matching_our_pattern_are_removed(tmp_path: Path) -> None:
    from zssr._atomic import remove_stale_temps

    names = {
        ".out.png.0123456789ab.tmp": True,  # ours, old: removed
        ".weird name.png.00000000ffff.tmp": True,  # ours (any target name), old: removed
        ".out.png.0123456789AB.tmp": False,  # upper-case hex: not ours
        ".out.png.0123456789a.tmp": False,  # 11 digits: not ours
        "out.png.0123456789ab.tmp": False,  # not hidden: not ours
        ".out.png.tmp": False,
        "out.png": False,
    }
    old = time.time() - 3600
    for name in names:
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, (old, old))
    fresh = tmp_path / ".fresh.png.0123456789ab.tmp"
    fresh.write_bytes(b"")
    removed = remove_stale_temps(tmp_path)
    assert sorted(p.name for p in removed) == sorted(n for n, gone in names.items() if gone)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name] + [n for n, gone in names.items() if not gone])


@pytest.mark.skipif(os.name != "posix", reason="POSIX advisory locks")
def test_a_temp_locked_by_a_live_writer_is_kept_however_old(tmp_path: Path) -> None:
    import fcntl

    from zssr._atomic import remove_stale_temps

    temp = tmp_path / ".out.png.0123456789ab.tmp"
    temp.write_bytes(b"")
    old = time.time() - 3600
    os.utime(temp, (old, old))
    descriptor = os.open(temp, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        assert remove_stale_temps(tmp_path) == [] and temp.exists()
    finally:
        os.close(descriptor)
    assert remove_stale_temps(tmp_path) == [temp]


def test_the_write_probe_names_a_file_in_the_way(tmp_path: Path) -> None:
    from zssr._atomic import check_writable

    (tmp_path / "file").write_text("x")
    check_writable(tmp_path)
    check_writable(tmp_path / "new" / "deeper")
    with pytest.raises(ImageWriteError, match=r"^cannot create output folder .*file/sub: .*file is a file, not a folder$"):
        check_writable(tmp_path / "file" / "sub")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize("breaker", ["\n", "\r", "\x1c", "\x85", "\u2028"])
def test_say_prints_one_line_whatever_breaks_lines_in_a_name(breaker: str, capsys: pytest.CaptureFixture[str]) -> None:
    # the characters str.splitlines splits on (the CI fuzz case of stop 32 was \x1c in a manifest field name)
    say(f"zssr: warning: bad{breaker}name.png:  two  spaces")
    err = capsys.readouterr().err
    assert err.splitlines() == ["zssr: warning: bad name.png: two spaces"]
    buffer = io.StringIO()
    say(f"a{breaker}b", buffer)
    assert buffer.getvalue() == "a b\n"
