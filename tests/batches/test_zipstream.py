"""The streaming zip writer: stored entries, UTF-8 names, ZIP64, exact size, streaming."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile

import pytest

from rendering.zipstream import ZipSource, ZipStream, safe_name, unique_names


@pytest.fixture
def files(tmp_path):
    out = []
    for i, (name, size) in enumerate(
        [("张伟__问候.mp4", 5000), ("Bo__Hello.mp4", 70000), ("empty.mp4", 0)]
    ):
        path = tmp_path / f"src{i}.bin"
        path.write_bytes(os.urandom(size))
        out.append(ZipSource(str(path), name))
    return out


def _read_back(data: bytes, sources):
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    for source, info in zip(sources, archive.infolist()):
        assert info.filename == source.arcname
        assert info.compress_type == zipfile.ZIP_STORED
        assert info.flag_bits & 0x0800, "UTF-8 name flag"
        assert info.flag_bits & 0x0008, "data descriptor flag"
        with open(source.path, "rb") as fh:
            assert archive.read(info) == fh.read()
    return archive


@pytest.mark.parametrize("zip64_limit", [0xFFFFFFFF, 6000, 1])
def test_archive_reads_back_with_exact_size(files, zip64_limit):
    stream = ZipStream(files, zip64_limit=zip64_limit)
    data = b"".join(stream)
    assert len(data) == stream.size()
    _read_back(data, files)


def test_zip64_records_present_when_limit_crossed(files):
    data = b"".join(ZipStream(files, zip64_limit=6000))
    # the 70000-byte entry and every later offset need ZIP64; the end needs the ZIP64 record
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data
    small = b"".join(ZipStream(files))
    assert b"PK\x06\x06" not in small


@pytest.mark.skipif(shutil.which("unzip") is None, reason="unzip not installed")
@pytest.mark.parametrize("zip64_limit", [0xFFFFFFFF, 1])
def test_info_zip_accepts_it(files, tmp_path, zip64_limit):
    target = tmp_path / "out.zip"
    target.write_bytes(b"".join(ZipStream(files, zip64_limit=zip64_limit)))
    result = subprocess.run(["unzip", "-t", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors detected" in result.stdout


def test_streams_in_bounded_chunks_before_reading_everything(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 65536 + 17))
    stream = ZipStream([ZipSource(str(big), "big.mp4")], chunk_size=65536)
    parts = iter(stream)
    header = next(parts)
    assert header.startswith(b"PK\x03\x04")  # first bytes go out before any file is read
    sizes = []
    for part in parts:
        sizes.append(len(part))
    assert max(sizes[:-2]) <= 65536
    assert len(sizes) >= 4


def test_file_that_shrinks_is_an_error(tmp_path):
    from rendering.zipstream import ZipStreamError

    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 1000)
    stream = ZipStream([ZipSource(str(path), "a.mp4")])
    path.write_bytes(b"x" * 10)
    with pytest.raises(ZipStreamError, match="a.mp4"):
        b"".join(stream)


def test_names_are_safe_and_unique():
    assert safe_name("安娜 / Anna: v2?") == "安娜 _ Anna_ v2_"
    assert safe_name("...") == "file"
    assert unique_names(["a.mp4", "A.mp4", "a.mp4", "b"]) == [
        "a.mp4",
        "A (2).mp4",
        "a (3).mp4",
        "b",
    ]
