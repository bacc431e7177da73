"""Server-sent events from an upstream stream (Ark's group generation), decoded incrementally.

Apart from the client that uses it (as openai-python keeps ``_streaming.py``) so it can be tested
alone against every way a stream may be cut, folded or padded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp

# One event (one image as base64 at most) may not grow past this: a stream without blank lines
# must not eat memory.
MAX_SSE_EVENT_BYTES = 64 * 1024 * 1024


class SSEEventTooLarge(ValueError):
    pass


@dataclass(slots=True)
class SSEEvent:
    event: str
    data: str


@dataclass(slots=True)
class SSEDecoder:
    """Incremental SSE parser (WHATWG rules): CR, LF or CRLF line ends, multi-line ``data``,
    comments, events dispatched on a blank line."""

    max_event_bytes: int = MAX_SSE_EVENT_BYTES
    _buffer: bytearray = field(default_factory=bytearray)
    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _size: int = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buffer += chunk
        events: list[SSEEvent] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                break
            end, width = cut
            line = bytes(self._buffer[:end]).decode("utf-8", errors="replace")
            del self._buffer[: end + width]
            event = self._line(line)
            if event is not None:
                events.append(event)
        if len(self._buffer) + self._size > self.max_event_bytes:
            raise SSEEventTooLarge(f"SSE event larger than {self.max_event_bytes} bytes")
        return events

    def finish(self) -> list[SSEEvent]:
        """Flush at end of stream; a last event without its blank line is still delivered."""
        events: list[SSEEvent] = []
        if self._buffer:
            line = bytes(self._buffer).decode("utf-8", errors="replace").rstrip("\r")
            self._buffer.clear()
            event = self._line(line)
            if event is not None:
                events.append(event)
        event = self._line("")
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = SSEEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data, self._size = "", [], 0
            return event
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._size += len(value)
        elif name == "event":
            self._event = value
        return None


def _line_end(buffer: bytearray) -> tuple[int, int] | None:
    lf = buffer.find(b"\n")
    cr = buffer.find(b"\r", 0, lf if lf >= 0 else len(buffer))
    if cr >= 0:
        if cr + 1 == len(buffer):
            return None  # maybe the CR of a CRLF split across chunks: wait for the next byte
        return cr, 2 if buffer[cr + 1 : cr + 2] == b"\n" else 1
    if lf >= 0:
        return lf, 1
    return None


async def iter_sse(content: aiohttp.StreamReader) -> AsyncIterator[SSEEvent]:
    decoder = SSEDecoder()
    async for chunk in content.iter_any():
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.finish():
        yield event
