"""The disk reserve: made when there is room, given back on a full volume, never half made."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from app.storage import reserve as reserve_module
from app.storage.reserve import DiskReserve, ReserveState

MB = 1024 * 1024


class Disk:
    def __init__(self, free: int) -> None:
        self.free = free

    def __call__(self) -> int:
        return self.free


def _reserve(tmp_path: Path, disk: Disk, size: int = MB) -> DiskReserve:
    return DiskReserve(tmp_path / ".disk-reserve", size, min_free=4 * MB, free_bytes=disk)


def test_made_with_real_blocks_when_there_is_room(tmp_path: Path) -> None:
    reserve = _reserve(tmp_path, Disk(100 * MB))
    assert reserve.maintain() == ReserveState.CREATED
    stat = (tmp_path / ".disk-reserve").stat()
    assert stat.st_size == MB
    assert stat.st_blocks * 512 >= MB  # allocated, not sparse: removing it gives space back
    assert reserve.maintain() == ReserveState.KEPT
    assert sorted(p.name for p in tmp_path.iterdir()) == [".disk-reserve"]


def test_released_on_a_full_volume_and_made_again_only_with_room_to_spare(tmp_path: Path) -> None:
    disk = Disk(100 * MB)
    reserve = _reserve(tmp_path, disk)
    reserve.maintain()
    disk.free = MB - 1  # less free than the reserve holds: the volume is full
    assert reserve.maintain() == ReserveState.RELEASED
    assert not reserve.present
    disk.free = 2 * MB + 4 * MB - 1  # back, but not by twice its size plus the margin
    assert reserve.maintain() == ReserveState.ABSENT
    disk.free = 2 * MB + 4 * MB
    assert reserve.maintain() == ReserveState.CREATED


def test_release_says_whether_there_was_anything_to_give(tmp_path: Path) -> None:
    reserve = _reserve(tmp_path, Disk(100 * MB))
    assert reserve.release() is False
    reserve.maintain()
    assert reserve.release() is True
    assert reserve.release() is False


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_reserve_that_cannot_be_made_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    def no_room(fd: int, offset: int, length: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(reserve_module.os, "posix_fallocate", no_room)
    reserve = _reserve(tmp_path, Disk(100 * MB))
    assert reserve.maintain() == ReserveState.ABSENT
    assert list(tmp_path.iterdir()) == []


def test_disabled_without_a_path_or_a_size(tmp_path: Path) -> None:
    assert DiskReserve(None, MB, min_free=0).maintain() == ReserveState.DISABLED
    assert DiskReserve(tmp_path / ".disk-reserve", 0, min_free=0).maintain() == ReserveState.DISABLED
    assert list(tmp_path.iterdir()) == []
