"""The SSE decoder alone: line ends split across chunks, comments, folding, limits."""

from __future__ import annotations

import pytest

from app.providers.sse import SSEDecoder, SSEEvent, SSEEventTooLarge


def feed_all(chunks: list[bytes], decoder: SSEDecoder | None = None) -> list[SSEEvent]:
    decoder = decoder or SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.finish()


def test_split_crlf_comments_and_multiline_data() -> None:
    events = feed_all([b": keep-alive\r\nevent: a\r", b"\ndata: {\"x\":\r\ndata: 1}\r\n\r\ndata: [DONE]"])
    assert events == [SSEEvent("a", '{"x":\n1}'), SSEEvent("message", "[DONE]")]


@pytest.mark.parametrize("newline", [b"\n", b"\r", b"\r\n"])
def test_every_line_end_gives_the_same_events(newline: bytes) -> None:
    raw = newline.join([b"event: image", b"data: 1", b"", b"data: 2", b"", b""])
    # One byte at a time: a line end may be split anywhere.
    assert feed_all([raw[i : i + 1] for i in range(len(raw))]) == [SSEEvent("image", "1"), SSEEvent("message", "2")]


def test_field_without_space_unknown_fields_and_empty_events() -> None:
    events = feed_all([b"data:a\nid: 7\nretry: 10\n\n\n\nevent: lonely\n\ndata: b\n\n"])
    # An event with no data is not dispatched; its name does not leak into the next one.
    assert events == [SSEEvent("message", "a"), SSEEvent("message", "b")]


def test_utf8_split_inside_a_character() -> None:
    raw = "data: 图片\n\n".encode()
    assert feed_all([raw[:8], raw[8:]]) == [SSEEvent("message", "图片")]


def test_an_event_that_never_ends_is_refused() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(SSEEventTooLarge):
        for _ in range(20):
            decoder.feed(b"data: " + b"x" * 20 + b"\n")


def test_a_line_without_an_end_is_refused_too() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(SSEEventTooLarge):
        decoder.feed(b"data: " + b"x" * 200)
