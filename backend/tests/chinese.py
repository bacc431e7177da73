"""What a message meant for the Chinese UI may contain: Chinese, plus the names it has to quote as
they are (settings, identifiers, protocol and format names, MIME types, the upstream's own code).
Anything else written in Latin letters would be English leaking into the Chinese UI."""

from __future__ import annotations

import re
from collections.abc import Iterable

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{4,}")
VERBATIM = re.compile(
    r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"  # a setting: ARK_API_KEY, UPSTREAM_READ_TIMEOUT
    r"|[a-z]+(?:_[a-z]+)+"  # a field name: task_id
    r"|[a-z]+/[a-z0-9.+-]+"  # a MIME type: text/html
    r"|\b(?:HTTP|JSON|JPEG|WebP|TIFF)\b"
)


def latin_words(text: str, *, verbatim: Iterable[str] = ()) -> list[str]:
    """Runs of four or more Latin letters left once the allowed names are taken out."""
    for name in verbatim:
        if name:
            text = text.replace(name, " ")
    return LATIN_WORD.findall(VERBATIM.sub(" ", text))


def assert_chinese(message_zh: object, english: object = None, *, verbatim: Iterable[str | None] = ()) -> None:
    """``message_zh`` is Chinese: not empty, with Chinese characters, not the English message
    standing in for it, and no English words beyond the names it must quote."""
    assert isinstance(message_zh, str) and CJK.search(message_zh), message_zh
    assert message_zh != english, message_zh
    assert latin_words(message_zh, verbatim=[v for v in verbatim if v]) == [], message_zh
