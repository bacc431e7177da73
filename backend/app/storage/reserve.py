"""Headroom kept as a file on the database's volume, given back when that volume is full.

SQLite needs free blocks to record any change, a delete included: its write-ahead log grows
before the rows go. On a full volume the user could not even delete history to make room, which is
what every "insufficient storage" answer asks them to do. So a file of ``size`` bytes, allocated
for real (not sparse), sits next to the database. When the volume is full it is removed, which
gives its blocks to the writes that free space; it is made again once free space is back above
twice its size plus the MIN_FREE_DISK_MB margin (the gap keeps it from flapping).
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import shutil
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

logger = logging.getLogger(__name__)


class ReserveState(StrEnum):
    DISABLED = "disabled"
    KEPT = "kept"
    CREATED = "created"
    RELEASED = "released"
    ABSENT = "absent"  # released earlier, not enough room yet to make it again


class DiskReserve:
    def __init__(
        self,
        path: Path | None,
        size: int,
        *,
        min_free: int,
        free_bytes: Callable[[], int] | None = None,
    ) -> None:
        self.path = path
        self.size = size
        self.min_free = min_free
        self._free_bytes = free_bytes or self._disk_free

    @property
    def enabled(self) -> bool:
        return self.path is not None and self.size > 0

    @property
    def present(self) -> bool:
        return self.path is not None and self.path.is_file()

    def maintain(self) -> ReserveState:
        """Release the reserve on a full volume, make it when there is room again."""
        if not self.enabled:
            return ReserveState.DISABLED
        free = self._free_bytes()
        if self.present:
            if free < self.size:
                self.release()
                return ReserveState.RELEASED
            return ReserveState.KEPT
        if free >= 2 * self.size + self.min_free and self._create():
            return ReserveState.CREATED
        return ReserveState.ABSENT

    def release(self) -> bool:
        """Remove the reserve; True when there was one to give back."""
        if self.path is None:
            return False
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        logger.warning("disk.reserve_released", extra={"path": str(self.path), "bytes": self.size})
        return True

    def _create(self) -> bool:
        assert self.path is not None
        tmp = self.path.with_name(f"{self.path.name}.{secrets.token_hex(6)}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                # Real blocks, not a sparse file: only allocated space can be given back.
                os.posix_fallocate(fd, 0, self.size)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            logger.warning("disk.reserve_not_created", extra={"path": str(self.path), "reason": exc.strerror})
            return False
        logger.info("disk.reserve_created", extra={"path": str(self.path), "bytes": self.size})
        return True

    def _disk_free(self) -> int:
        assert self.path is not None
        directory = self.path.parent
        while not directory.exists() and directory.parent != directory:
            directory = directory.parent
        return shutil.disk_usage(directory).free
