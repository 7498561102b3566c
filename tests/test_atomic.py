"""The one atomic writer (``zssr._atomic``): complete files or none, never a temp left behind."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

import pytest

from zssr._atomic import atomic_write, write_bytes, write_text
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
