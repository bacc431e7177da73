"""File names for downloaded images: when it was made, what it shows, which task and image, e.g.
``20260102-030405_misty-water-town-at-dawn_0123abcd_1.png`` (the `studio` command's scheme). The
frontend's utils/download.ts (``downloadName``) follows it too, so a single file and the same file
out of a zip agree.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

SLUG_MAX = 40
# Runs of anything but letters and digits (of any script: Chinese prompts keep their characters).
_SEPARATORS = re.compile(r"[\W_]+", re.UNICODE)


def prompt_slug(prompt: str, limit: int = SLUG_MAX) -> str:
    """Lower-case words of the prompt joined by '-', at most ``limit`` characters, cut at a word
    boundary where there is one; "image" when nothing is left."""
    text = unicodedata.normalize("NFKC", prompt).lower()
    slug = _SEPARATORS.sub("-", text).strip("-")
    if len(slug) > limit:
        cut = slug[:limit]
        slug = cut.rsplit("-", 1)[0] if "-" in cut[limit // 2 :] else cut
    return slug.strip("-") or "image"


def download_name(created_at: datetime, prompt: str, task_id: str, index: int, ext: str) -> str:
    """The time in UTC (the same for everyone who downloads it), the slug, the task's first 8
    characters, the image number from 1."""
    stamp = created_at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}_{prompt_slug(prompt)}_{task_id[:8]}_{index + 1}.{ext.lstrip('.').lower()}"


def archive_name(title: str, when: datetime) -> str:
    """A zip of a named set (a collection): the day it was made and a slug of the name."""
    return f"{when.astimezone(UTC).strftime('%Y%m%d')}_{prompt_slug(title)}.zip"
