"""Subtitles in the browser: a broken SRT is refused on the audio page naming its line; an
SRT dropped together with its audio in the audio library is attached to it; a batch with
"burn subtitles" rendered by the stack's real worker gives a video whose subtitle track holds
the cues (read back with PyAV). Both languages."""

from __future__ import annotations

import re

import pytest

from tests.engine.test_subtitles import read_subtitle_track

from .conftest import choose_files, login, shot
from .seed import seed

LANGS = {
    "en": {
        "locale": "en-US",
        "broken": "broken.srt: line 6: expected a time line",
        "attached": "Subtitles lecture.srt attached (2 cues).",
        "burned": "subtitles burned in",
    },
    "zh": {
        "locale": "zh-CN",
        "broken": "broken.srt：第 6 行：应为时间行",
        "attached": "已添加字幕 lecture.srt（2 条）。",
        "burned": "字幕已烧录",
    },
}

SRT = (
    "1\n00:00:00,100 --> 00:00:00,700\nHello and welcome\n\n"
    "2\n00:00:00,800 --> 00:00:01,400\n欢迎\n"
)
BROKEN = "1\n00:00:00,100 --> 00:00:00,700\nHello\n\n2\n00:00:00,800 -> 00:00:01,400\nx\n"

SETUP = """
owner, team = user(P["name"], P["team"])
project = Project.objects.create(team=team, name="Course")
p = presenter(team, "Anna", P["clip"])
a = audio(team, "Welcome", P["voice"], project=project)
OUT.update(project=project.pk, presenter=p.pk, audio=a.pk)
"""


@pytest.mark.slow
@pytest.mark.parametrize("lang", list(LANGS))
def test_subtitles_from_upload_to_result(lang, new_page, stack, test_media, artifacts, tmp_path):
    t = LANGS[lang]
    made = seed(
        stack,
        SETUP,
        name=f"subs-{lang}",
        team=f"Captions {lang}",
        clip=test_media["presenters"][0],
        voice=test_media["audio"],
    )
    page = new_page(t["locale"])
    login(page, f"subs-{lang}")

    # A broken file on the audio's page: refused, naming the file and the line.
    page.goto(f"/audio/{made['audio']}/")
    page.get_by_test_id("subtitles-input").set_input_files(
        [{"name": "broken.srt", "mimeType": "application/x-subrip", "buffer": BROKEN.encode()}]
    )
    with page.expect_navigation():
        page.get_by_test_id("subtitles-upload").click()
    assert t["broken"] in page.get_by_test_id("messages").inner_text()
    assert page.get_by_test_id("subtitles-file").count() == 0
    shot(page, artifacts, f"{lang}-subtitles-refused")

    # Audio and its subtitles dropped together in the audio library.
    page.get_by_test_id("nav-audio").click()
    choose_files(
        page,
        "upload-input-audio",
        [
            {
                "name": "lecture.wav",
                "mimeType": "audio/wav",
                "buffer": test_media["audio"].read_bytes(),
            },
            {"name": "lecture.srt", "mimeType": "application/x-subrip", "buffer": SRT.encode()},
        ],
    )
    note = page.get_by_test_id("upload-subtitles").first
    note.wait_for(state="visible", timeout=60_000)
    assert note.inner_text() == t["attached"] and note.get_attribute("data-state") == "attached"
    assert page.get_by_test_id("upload-item").count() == 1, "the SRT rides on its audio's row"
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=audio-row]')].some(r =>"
        " r.textContent.includes('lecture') && r.querySelector('[data-status=ready]'))",
        timeout=120_000,
    )
    shot(page, artifacts, f"{lang}-audio-with-subtitles")
    row = page.get_by_test_id("audio-row").filter(has_text="lecture")
    lecture_id = row.get_attribute("data-audio-id")

    # A batch of the project with the library's track, subtitles burned in.
    page.goto(f"/batches/new/?project={made['project']}")
    page.locator(f"input[name=audio][value='{lecture_id}']").check()
    page.locator(f"input[name=audio][value='{made['audio']}']").uncheck()
    page.locator(f"input[name=presenter][value='{made['presenter']}']").check()
    page.get_by_test_id("batch-burn-subtitles").check()
    with page.expect_navigation():
        page.get_by_test_id("submit-batch").click()
    assert re.search(r"/batches/\d+/$", page.url)
    assert page.get_by_test_id("batch-burned").inner_text() == t["burned"]
    page.wait_for_function(
        "() => document.querySelector('[data-testid=batch-status]')"
        ".classList.contains('badge-succeeded')",
        timeout=240_000,
    )
    shot(page, artifacts, f"{lang}-batch-with-subtitles")
    video = page.get_by_test_id("task-video").first.get_attribute("src")
    response = page.request.get(video)
    assert response.ok
    out = tmp_path / "result.mp4"
    out.write_bytes(response.body())
    codec, _language, cues = read_subtitle_track(out)
    assert codec == "mov_text"
    assert cues == [(0.1, 0.7, "Hello and welcome"), (0.8, 1.4, "欢迎")]
    assert page.js_errors == []
