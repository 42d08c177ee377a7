"""Writing an uploaded body to the spool folder as it arrives: decompressed when gzip,
hashed (SHA-256 of the decompressed bytes), never held whole in memory.

A gzip body is inflated in bounded steps, so a small body that would inflate to
gigabytes (a gzip bomb) is refused after at most a few megabytes of output: by the
decompressed-size limit, and earlier by the ratio of output to input.
"""

from __future__ import annotations

import hashlib
import os
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gateway.errors import GatewayError
from validators.problems import Problem

GZIP_MAGIC = b"\x1f\x8b"
STEP = 1024 * 1024  # most bytes inflated at once
RATIO_AFTER = 10 * 1024 * 1024  # output size from which the ratio is judged


@dataclass(frozen=True, slots=True)
class Spooled:
    path: Path
    sha256: str
    size: int  # decompressed bytes
    received: int  # bytes on the wire


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        f"The batch is larger than {limit} bytes (decompressed).",
        413,
        [Problem("body.too-large", f"The batch is larger than {limit} bytes (decompressed).")],
    )


def gzip_bomb(ratio: int) -> GatewayError:
    message = f"The gzip body inflates more than {ratio} times: refused as a gzip bomb."
    return GatewayError(message, 413, [Problem("body.gzip-bomb", message)])


class SpoolWriter:
    """Takes the body in pieces; ``finish`` returns the file, ``discard`` removes it."""

    def __init__(
        self, folder: Path, *, gzip: bool | None, limit: int, max_ratio: int, suffix: str
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"upload-{uuid.uuid4().hex}.{suffix}.part"
        self._file: BinaryIO = self.path.open("wb")
        self._gzip = gzip  # None: decide from the first bytes
        self._inflater: zlib._Decompress | None = None
        self._hash = hashlib.sha256()
        self._limit = limit
        self._max_ratio = max_ratio
        self.size = 0
        self.received = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.received += len(data)
        if self._gzip is None:
            self._gzip = data[:2] == GZIP_MAGIC
        if not self._gzip:
            self._emit(data)
            return
        while data:
            if self._inflater is None:
                self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            inflater = self._inflater
            try:
                self._emit(inflater.decompress(data, STEP))
                while inflater.unconsumed_tail:
                    self._emit(inflater.decompress(inflater.unconsumed_tail, STEP))
            except zlib.error as exc:
                message = f"The gzip body is corrupt: {exc}."
                raise GatewayError(message, 400, [Problem("body.gzip-invalid", message)]) from exc
            # A body may hold several gzip members one after another (as `cat a.gz b.gz`).
            data = inflater.unused_data if inflater.eof else b""
            if inflater.eof:
                self._inflater = None

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        if self.size > self._limit:
            raise too_large(self._limit)
        if self._gzip and self.size > RATIO_AFTER and self.size > self._max_ratio * self.received:
            raise gzip_bomb(self._max_ratio)
        self._hash.update(data)
        self._file.write(data)

    def finish(self) -> Spooled:
        if self._inflater is not None and not self._inflater.eof:
            self.discard()
            message = "The gzip body ends before its end."
            raise GatewayError(message, 400, [Problem("body.gzip-invalid", message)])
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self.size == 0:
            self.discard()
            raise GatewayError(
                "The body is empty.", 400, [Problem("body.empty", "The body is empty.")]
            )
        return Spooled(self.path, self._hash.hexdigest(), self.size, self.received)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)
