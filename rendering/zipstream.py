"""A zip archive written as a stream: constant memory, first byte at once, any size.

Entries are *stored* (MP4 does not compress), flagged UTF-8 (so ``张伟__问候.mp4`` survives) and
use a data descriptor, so no file has to be read before its bytes are sent: the CRC is computed
while the bytes go out and written after them. Entries or offsets past 4 GiB switch to ZIP64.

Because entries are stored and the sizes are known from ``stat``, the archive's exact length is
known before the first byte (:meth:`ZipStream.size`), which lets a view send ``Content-Length``.
"""

from __future__ import annotations

import os
import re
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

ZIP64_LIMIT = 0xFFFFFFFF
ZIP64_COUNT_LIMIT = 0xFFFF
CHUNK = 1 << 20

_FLAG_DATA_DESCRIPTOR = 0x0008
_FLAG_UTF8 = 0x0800
_FLAGS = _FLAG_DATA_DESCRIPTOR | _FLAG_UTF8
_STORED = 0
_VERSION_MADE_BY = (3 << 8) | 45  # Unix, spec 4.5
_UNIX_FILE_ATTRS = 0o100644 << 16


class ZipStreamError(Exception):
    """A source file changed or vanished while the archive was being written."""


@dataclass(frozen=True)
class ZipSource:
    """One file to put in the archive under ``arcname``: the file at ``path``, or ``data``
    (small bytes made on the fly, e.g. a manifest; ``path`` is then ignored)."""

    path: str
    arcname: str
    data: bytes | None = None


@dataclass
class _Entry:
    source: ZipSource
    name: bytes
    size: int
    dos_time: int
    dos_date: int
    offset: int = 0
    crc: int = 0
    zip64: bool = False


def _dos_datetime(mtime: float) -> tuple[int, int]:
    t = time.localtime(mtime)
    year = min(max(t.tm_year, 1980), 2107)
    dos_date = ((year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    dos_time = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    return dos_time, dos_date


class ZipStream:
    """Plan and write a stored zip of ``sources``.

    ``zip64_limit`` is the size/offset at which ZIP64 records are used; it exists so tests can
    exercise the ZIP64 layout with small files.
    """

    def __init__(
        self,
        sources: Iterable[ZipSource],
        *,
        zip64_limit: int = ZIP64_LIMIT,
        chunk_size: int = CHUNK,
    ) -> None:
        self.zip64_limit = zip64_limit
        self.chunk_size = chunk_size
        self.entries: list[_Entry] = []
        offset = 0
        for source in sources:
            if source.data is not None:
                size, mtime = len(source.data), time.time()
            else:
                st = os.stat(source.path)
                size, mtime = st.st_size, st.st_mtime
            dos_time, dos_date = _dos_datetime(mtime)
            entry = _Entry(
                source,
                source.arcname.encode("utf-8"),
                size,
                dos_time,
                dos_date,
                offset=offset,
            )
            entry.zip64 = size >= zip64_limit or offset >= zip64_limit
            self.entries.append(entry)
            offset += self._local_len(entry) + entry.size + self._descriptor_len(entry)
        self._cd_offset = offset

    # --- sizes ----------------------------------------------------------------------------
    @staticmethod
    def _local_len(entry: _Entry) -> int:
        return 30 + len(entry.name) + (20 if entry.zip64 else 0)

    @staticmethod
    def _descriptor_len(entry: _Entry) -> int:
        return 24 if entry.zip64 else 16

    def _central_extra_fields(self, entry: _Entry) -> list[int]:
        fields = []
        if entry.size >= self.zip64_limit:
            fields += [entry.size, entry.size]
        if entry.offset >= self.zip64_limit:
            fields.append(entry.offset)
        return fields

    def _central_len(self, entry: _Entry) -> int:
        fields = self._central_extra_fields(entry)
        return 46 + len(entry.name) + (4 + 8 * len(fields) if fields else 0)

    def _needs_zip64_end(self, cd_size: int) -> bool:
        return (
            len(self.entries) >= ZIP64_COUNT_LIMIT
            or self._cd_offset >= self.zip64_limit
            or cd_size >= self.zip64_limit
        )

    def size(self) -> int:
        """The archive's exact length in bytes."""
        cd_size = sum(self._central_len(e) for e in self.entries)
        end = 22 + (56 + 20 if self._needs_zip64_end(cd_size) else 0)
        return self._cd_offset + cd_size + end

    # --- writing --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[bytes]:
        for entry in self.entries:
            yield self._local_header(entry)
            yield from self._file_data(entry)
            yield self._descriptor(entry)
        central = b"".join(self._central_header(e) for e in self.entries)
        yield central + self._end_records(len(central))

    def _local_header(self, entry: _Entry) -> bytes:
        extra = b""
        size_field = 0
        if entry.zip64:
            extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0)
            size_field = 0xFFFFFFFF
        version = 45 if entry.zip64 else 20
        return (
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                version,
                _FLAGS,
                _STORED,
                entry.dos_time,
                entry.dos_date,
                0,
                size_field,
                size_field,
                len(entry.name),
                len(extra),
            )
            + entry.name
            + extra
        )

    def _file_data(self, entry: _Entry) -> Iterator[bytes]:
        if entry.source.data is not None:
            entry.crc = zlib.crc32(entry.source.data)
            yield entry.source.data
            return
        crc = 0
        sent = 0
        try:
            fh = open(entry.source.path, "rb")  # noqa: SIM115 (closed by the with below)
        except OSError as exc:
            raise ZipStreamError(f"{entry.source.arcname}: {exc.strerror}") from exc
        with fh:
            while sent < entry.size:
                chunk = fh.read(min(self.chunk_size, entry.size - sent))
                if not chunk:
                    raise ZipStreamError(f"{entry.source.arcname}: file shrank while zipping")
                crc = zlib.crc32(chunk, crc)
                sent += len(chunk)
                yield chunk
        entry.crc = crc

    def _descriptor(self, entry: _Entry) -> bytes:
        if entry.zip64:
            return struct.pack("<IIQQ", 0x08074B50, entry.crc, entry.size, entry.size)
        return struct.pack("<IIII", 0x08074B50, entry.crc, entry.size, entry.size)

    def _central_header(self, entry: _Entry) -> bytes:
        fields = self._central_extra_fields(entry)
        extra = (
            struct.pack(f"<HH{len(fields)}Q", 0x0001, 8 * len(fields), *fields) if fields else b""
        )
        big_size = entry.size >= self.zip64_limit
        size = 0xFFFFFFFF if big_size else entry.size
        offset = 0xFFFFFFFF if entry.offset >= self.zip64_limit else entry.offset
        version = 45 if (fields or entry.zip64) else 20
        return (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                _VERSION_MADE_BY,
                version,
                _FLAGS,
                _STORED,
                entry.dos_time,
                entry.dos_date,
                entry.crc,
                size,
                size,
                len(entry.name),
                len(extra),
                0,
                0,
                0,
                _UNIX_FILE_ATTRS,
                offset,
            )
            + entry.name
            + extra
        )

    def _end_records(self, cd_size: int) -> bytes:
        count = len(self.entries)
        out = b""
        if self._needs_zip64_end(cd_size):
            zip64_end_offset = self._cd_offset + cd_size
            out += struct.pack(
                "<IQHHIIQQQQ",
                0x06064B50,
                44,
                _VERSION_MADE_BY,
                45,
                0,
                0,
                count,
                count,
                cd_size,
                self._cd_offset,
            )
            out += struct.pack("<IIQI", 0x07064B50, 0, zip64_end_offset, 1)
            return out + struct.pack(
                "<IHHHHIIH",
                0x06054B50,
                0,
                0,
                min(count, 0xFFFF),
                min(count, 0xFFFF),
                min(cd_size, 0xFFFFFFFF),
                0xFFFFFFFF,
                0,
            )
        return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, self._cd_offset, 0)


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def safe_name(text: str, fallback: str = "file") -> str:
    """A file name part with path separators and characters Windows refuses replaced.

    Letters of every script are kept (Chinese names stay Chinese).
    """
    cleaned = _UNSAFE.sub("_", text).strip().strip(".")
    return cleaned[:120] or fallback


def unique_names(names: Iterable[str]) -> list[str]:
    """The names with `` (2)``, `` (3)``... added before the extension to repeated ones."""
    seen: set[str] = set()
    out = []
    for name in names:
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        candidate, n = name, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
        seen.add(candidate.lower())
        out.append(candidate)
    return out
