"""Bounded content decoding: gzip, deflate and br, inflated a bounded chunk at a time.

httpx's own decoders inflate every network chunk whole (`zlib`'s ``decompress`` without
``max_length``, brotli's ``process`` without an output limit), so a 1.6 KB brotli body can
grow to a gibibyte before anybody counts it. `BodyDecoder` never asks a decompressor for
more than `CHUNK` bytes at a time and counts every piece against the body cap, so memory
stays within the cap plus a few chunks, for every encoding and every stacking of them
(``content-encoding: gzip, br``), on every transport: the request engine reads raw bytes
and decodes them here.

``br`` is decoded when the ``brotli`` package (1.2 or newer, the first with an output
limit) or a ``brotlicffi`` with the same limit is installed; otherwise it is not
advertised in ``Accept-Encoding`` and a ``br`` body is refused as undecodable.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ACCEPT_ENCODING", "CHUNK", "BodyDecoder", "DecodingFailedError", "TooLargeError"]

#: The most bytes one decompression step produces (and so the most any stage holds).
CHUNK: Final = 64 * 1024


class DecodingFailedError(ValueError):
    """The body is not valid for its ``content-encoding``, or the encoding is unknown."""


class TooLargeError(ValueError):
    """The decoded body grew past the cap."""


class _Stage(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _Zlib:
    """gzip (``wbits=31``) or deflate (zlib-wrapped, or raw as some servers send)."""

    __slots__ = ("_d", "_deflate", "_started", "_wbits")

    def __init__(self, wbits: int, *, deflate: bool = False) -> None:
        self._wbits = wbits
        self._d = zlib.decompressobj(wbits)
        self._deflate = deflate
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        d = self._d
        if d.eof:
            return  # trailing bytes after the stream's end are ignored, as httpx does
        try:
            out = d.decompress(data, CHUNK)
        except zlib.error:
            if not self._deflate or self._started:
                raise
            # "deflate" without the zlib header: raw deflate.
            self._d = d = zlib.decompressobj(-zlib.MAX_WBITS)
            out = d.decompress(data, CHUNK)
        self._started = True
        while True:
            if out:
                yield out
            if d.eof or (not d.unconsumed_tail and len(out) < CHUNK):
                return
            out = d.decompress(d.unconsumed_tail, CHUNK)

    def flush(self) -> Iterator[bytes]:
        if not self._d.eof and self._started:
            # A truncated stream: whatever is left is at most one bounded piece.
            rest = self._d.flush(CHUNK)
            if rest:
                yield rest


class _Brotli:
    __slots__ = ("_d",)

    def __init__(self, module: object) -> None:
        self._d = module.Decompressor()  # type: ignore[attr-defined]

    def feed(self, data: bytes) -> Iterator[bytes]:
        d = self._d
        out: bytes = d.process(data, output_buffer_limit=CHUNK)
        while True:
            if out:
                yield out
            if d.can_accept_more_data():
                return
            out = d.process(b"", output_buffer_limit=CHUNK)

    def flush(self) -> Iterator[bytes]:
        return iter(())


def _brotli_module() -> object | None:
    for name in ("brotli", "brotlicffi"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        decompressor = getattr(module, "Decompressor", None)
        if decompressor is not None and hasattr(decompressor, "can_accept_more_data"):
            return module
    return None


_BROTLI: Final = _brotli_module()

#: What the client advertises: only encodings it can decode with bounded memory.
ACCEPT_ENCODING: Final = "gzip, deflate, br" if _BROTLI is not None else "gzip, deflate"


def _stage(name: str) -> _Stage | None:
    if name in {"gzip", "x-gzip"}:
        return _Zlib(zlib.MAX_WBITS | 16)
    if name == "deflate":
        return _Zlib(zlib.MAX_WBITS, deflate=True)
    if name == "br" and _BROTLI is not None:
        return _Brotli(_BROTLI)
    if name in {"identity", ""}:
        return None
    raise DecodingFailedError(f"unsupported content-encoding {name!r}")


class BodyDecoder:
    """Decodes a body for its ``content-encoding`` header, within ``max_body`` bytes.

    Feed raw chunks with `feed`, then call `finish`; both return the decoded bytes so
    far as a list of pieces (at most `CHUNK` each).

    Args:
        content_encoding: The header's value (``None`` or ``identity`` for none).
        max_body: The cap on the decoded body, in bytes.

    Raises:
        DecodingFailedError: An unknown encoding (at construction) or a corrupt body.
        TooLargeError: The decoded body passed ``max_body`` bytes.
    """

    __slots__ = ("_size", "_stages", "max_body")

    def __init__(self, content_encoding: str | None, max_body: int) -> None:
        self.max_body = max_body
        self._size = 0
        stages: list[_Stage] = []
        if content_encoding:
            # Applied in the order listed, so undone in reverse.
            for name in reversed(content_encoding.lower().split(",")):
                stage = _stage(name.strip())
                if stage is not None:
                    stages.append(stage)
        self._stages = stages

    @property
    def size(self) -> int:
        """Decoded bytes so far."""
        return self._size

    def feed(self, data: bytes) -> list[bytes]:
        """Decode one raw chunk; return the decoded pieces."""
        if not self._stages:
            self._size += len(data)
            if self._size > self.max_body:
                raise TooLargeError(self.max_body)
            return [data]
        out: list[bytes] = []
        self._run_lazily(data, 0, out)
        return out

    def _run_lazily(self, data: bytes, index: int, out: list[bytes]) -> None:
        # One piece at a time through every later stage, so no stage ever holds more
        # than one `CHUNK` of output waiting for the next one.
        if index == len(self._stages):
            self._size += len(data)
            if self._size > self.max_body:
                raise TooLargeError(self.max_body)
            out.append(data)
            return
        if not data:
            return
        pieces = self._stages[index].feed(data)
        while True:
            try:
                piece = next(pieces)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - zlib.error, brotli.error and kin
                raise DecodingFailedError(str(exc) or type(exc).__name__) from None
            self._run_lazily(piece, index + 1, out)

    def finish(self) -> list[bytes]:
        """Flush what the decompressors still hold; return the last pieces."""
        out: list[bytes] = []
        for index, stage in enumerate(self._stages):
            try:
                rest = list(stage.flush())
            except Exception as exc:  # noqa: BLE001 - zlib.error, brotli.error and kin
                raise DecodingFailedError(str(exc) or type(exc).__name__) from None
            for piece in rest:
                self._run_lazily(piece, index + 1, out)
        return out
