from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from app.storage import archive
from app.storage.archive import ArcnameAllocator, sanitize_arcname, stream_zip


async def _collect(entries, extra=None, **kwargs) -> tuple[bytes, list[bytes]]:
    chunks = [chunk async for chunk in stream_zip(entries, extra, **kwargs)]
    return b"".join(chunks), chunks


@pytest.fixture
def sample_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "small.png": b"\x89PNG small",
        "empty.jpg": b"",
        "big.webp": os.urandom(2_500_000),
    }
    paths = {}
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths[name] = path
    return paths


async def test_zip_round_trip(sample_files: dict[str, Path]) -> None:
    entries = [
        ("images/a.png", sample_files["small.png"]),
        ("images/a.png", sample_files["empty.jpg"]),
        ("images/A.png", sample_files["big.webp"]),
        ("../../etc/passwd", sample_files["small.png"]),
        ("/abs/x.png", sample_files["small.png"]),
        ("C:\\Users\\x\\y.png", sample_files["small.png"]),
        ("雨中的猫.png", sample_files["small.png"]),
    ]
    extra = {"metadata.json": b'{"items": []}'}
    data, chunks = await _collect(entries, extra, chunk_size=256 * 1024)

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == [
            "images/a.png",
            "images/a (2).png",
            "images/A (3).png",
            "etc/passwd",
            "abs/x.png",
            "C_/Users/x/y.png",
            "雨中的猫.png",
            "metadata.json",
        ]
        sources = [path for _, path in entries]
        for info, source in zip(zf.infolist(), sources, strict=False):
            assert zf.read(info) == source.read_bytes()
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.flag_bits & 0x08 == 0  # sizes and CRC are in the local header
        assert zf.read("metadata.json") == b'{"items": []}'
    # Streamed in pieces no bigger than a chunk plus some headers, not as one blob.
    assert len(chunks) > 10
    assert max(len(chunk) for chunk in chunks) <= 256 * 1024 + 4096


async def test_zero_entries_is_a_valid_empty_zip() -> None:
    data, _ = await _collect([], None)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == []
    assert data == b"PK\x05\x06" + b"\x00" * 18


async def test_only_extra_entries() -> None:
    data, _ = await _collect([], {"metadata.json": b"[]", "../README.txt": b"hi"})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["metadata.json", "README.txt"]
        assert zf.read("README.txt") == b"hi"


async def test_missing_files_are_skipped(sample_files: dict[str, Path], tmp_path: Path) -> None:
    entries = [("gone.png", tmp_path / "gone.png"), ("small.png", sample_files["small.png"])]
    data, _ = await _collect(entries)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["small.png"]


async def test_extra_entries_are_told_which_files_were_missing(sample_files: dict[str, Path], tmp_path: Path) -> None:
    """A file gone by the time it is reached (deleted behind the app's back, or meanwhile) is named
    to the code that writes the trailing entries, so the archive can say so."""
    entries = [("gone.png", tmp_path / "gone.png"), ("small.png", sample_files["small.png"]), ("x/also.png", tmp_path)]
    seen: list[list[str]] = []

    def trailer(missing: list[str]) -> dict[str, bytes]:
        seen.append(missing)
        return {"MISSING.txt": "\n".join(missing).encode()}

    data, _ = await _collect(entries, trailer)
    assert seen == [["gone.png", "x/also.png"]]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["small.png", "MISSING.txt"]
        assert zf.read("MISSING.txt") == b"gone.png\nx/also.png"


async def test_entries_are_consumed_lazily(sample_files: dict[str, Path]) -> None:
    def generate():
        for index in range(3):
            yield f"{index}.png", sample_files["small.png"]

    data, _ = await _collect(generate())
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["0.png", "1.png", "2.png"]


async def test_zip64_records_when_limits_are_crossed(
    sample_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real ZIP64 needs 4 GiB; lowering the thresholds exercises the same code paths.
    monkeypatch.setattr(archive, "ZIP64_LIMIT", 1000)
    monkeypatch.setattr(archive, "ZIP_COUNT_LIMIT", 3)
    entries = [(f"{i}.bin", sample_files["big.webp" if i == 1 else "small.png"]) for i in range(4)]
    data, _ = await _collect(entries, {"metadata.json": b"{}"})
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert zf.read("1.bin") == sample_files["big.webp"].read_bytes()
        assert zf.read("3.bin") == sample_files["small.png"].read_bytes()
        assert zf.getinfo("1.bin").file_size == 2_500_000


@pytest.mark.skipif(shutil.which("unzip") is None, reason="Info-ZIP unzip not installed")
async def test_info_zip_accepts_the_archive(sample_files: dict[str, Path], tmp_path: Path) -> None:
    data, _ = await _collect([(name, path) for name, path in sample_files.items()], {"m.json": b"{}"})
    target = tmp_path / "out.zip"
    target.write_bytes(data)
    result = subprocess.run(["unzip", "-t", str(target)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.png", "a.png"),
        ("../../x.png", "x.png"),
        ("/etc/passwd", "etc/passwd"),
        ("a/./b/../c.png", "a/b/c.png"),
        ("a\\b\\c.png", "a/b/c.png"),
        ("con:<>|?*.png", "con______.png"),
        ("tab\tnul\x00.png", "tab_nul_.png"),
        ("trailing. ", "trailing"),
        ("", "file"),
        ("../..", "file"),
        ("x" * 300 + ".png", "x" * 146 + ".png"),
    ],
)
def test_sanitize_arcname(name: str, expected: str) -> None:
    assert sanitize_arcname(name) == expected


def test_duplicate_names_ignore_case() -> None:
    names = ArcnameAllocator()
    assert [names.allocate(n) for n in ["a.png", "A.PNG", "a.png", "a (2).png", "dir/a.png"]] == [
        "a.png",
        "A (2).PNG",
        "a (3).png",
        "a (2) (2).png",
        "dir/a.png",
    ]
