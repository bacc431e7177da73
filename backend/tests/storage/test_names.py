from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from app.storage.names import download_name, prompt_slug


def test_slug_keeps_words_of_any_script_and_drops_the_rest() -> None:
    assert prompt_slug("A misty water town at dawn, ink-wash style!") == "a-misty-water-town-at-dawn-ink-wash"
    assert prompt_slug("水墨山水画 with mountains") == "水墨山水画-with-mountains"
    assert prompt_slug("../../etc/passwd") == "etc-passwd"
    assert prompt_slug("  ***  ") == "image"
    assert prompt_slug("Ｆｕｌｌｗｉｄｔｈ　ＡＢＣ") == "fullwidth-abc"


def test_slug_is_cut_at_a_word_boundary() -> None:
    slug = prompt_slug("one two three four five six seven eight nine ten eleven")
    assert len(slug) <= 40 and slug == "one-two-three-four-five-six-seven-eight"
    assert len(prompt_slug("x" * 100)) == 40


def test_name_carries_the_utc_time_the_slug_the_task_and_the_number_from_one() -> None:
    made = datetime(2026, 1, 2, 11, 4, 5, tzinfo=timezone(timedelta(hours=8)))
    task = "0123456789abcdef0123456789abcdef"
    assert download_name(made, "A red fox", task, 0, "PNG") == "20260102-030405_a-red-fox_01234567_1.png"
    assert download_name(made.astimezone(UTC), "A red fox", task, 3, ".webp") == "20260102-030405_a-red-fox_01234567_4.webp"
