from __future__ import annotations

import ctypes.util
import sys

import pytest

from app.core import memory


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or "libc.so" not in str(ctypes.util.find_library("c")), reason="glibc only"
)
def test_large_blocks_are_returned_to_the_os_on_glibc() -> None:
    assert memory.return_large_blocks_to_os() is True


def test_elsewhere_it_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert memory.return_large_blocks_to_os() is False
