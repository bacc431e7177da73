"""File names of the `studio` command's downloads: date, prompt slug, task, index, real extension."""

from __future__ import annotations

from app.cli.commands import file_names, slug


def test_slug_keeps_letters_of_any_script_and_folds_the_rest() -> None:
    assert slug("A red fox, in the snow!") == "a-red-fox-in-the-snow"
    assert slug("雪中的红狐 / fox") == "雪中的红狐-fox"
    assert slug("../../etc/passwd") == "etc-passwd"
    assert slug("!!!") == "image"
    assert len(slug("x" * 200)) == 40


def test_file_names_follow_the_served_type_and_skip_missing_images() -> None:
    task = {
        "task_id": "0123456789abcdef0123456789abcdef",
        "prompt": "Fox",
        "created_at": "2026-11-30T21:05:09.123+00:00",
        "outputs": [
            {"index": 0, "url": "/images/a.png", "content_type": "image/png"},
            {"index": 1, "url": "/images/b.jpg", "content_type": "image/jpeg"},
            {"index": 2, "url": "/images/c.webp", "content_type": "image/webp", "missing": True},
        ],
    }
    assert file_names(task) == [
        ("/images/a.png", "20261130-210509_fox_01234567_1.png"),
        ("/images/b.jpg", "20261130-210509_fox_01234567_2.jpg"),
    ]
