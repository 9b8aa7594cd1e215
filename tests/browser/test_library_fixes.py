"""The small things of the libraries, in both languages:

* "Download selected (zip)" is disabled until a video is ticked; called empty anyway, the
  server answers with the library and a message (not a bare error page);
* a presenter card's warnings show whole lines (two, then the rest on hover and focus), and
  the presenter's page shows them all;
* deleting a presenter says what goes and what stays (its finished videos);
* the audio library is in the navigation, takes uploads without a project, and an audio
  track's format reads as words (not ``pcm_s16le``);
* the engine of a video reads as a name (not ``warp``); the admin's audit log is translated.
"""

from __future__ import annotations

import pytest

from .conftest import choose_files, login, shot
from .seed import seed

LANGS = {
    "en": {
        "locale": "en-US",
        "zip_empty": "Tick at least one video, then download the selection.",
        "kept": "The finished video made with it stays in the media library",
        "removed": "Its video or photo and its thumbnail are deleted from the server.",
        "audio_nav": "Audio",
        "library": "Audio library",
        "codec": "PCM, 16-bit (uncompressed), 16000 Hz, mono",
        "engine": "Built-in mouth animation",
        "audit_headers": ["When", "Who", "Action", "Team", "Kind of target", "Target"],
        "audit_kind": "presenter",
    },
    "zh": {
        "locale": "zh-CN",
        "zip_empty": "请至少勾选一个视频，然后再下载所选内容。",
        "kept": "用它完成的",
        "removed": "其视频或照片以及缩略图将从服务器上删除。",
        "audio_nav": "音频",
        "library": "音频库",
        "codec": "PCM，16 位（未压缩）, 16000 Hz, 单声道",
        "engine": "内置口型动画",
        "audit_headers": ["时间", "操作人", "操作", "团队", "对象类型", "对象"],
        "audit_kind": "主播",
    },
}

SETUP = """
from studio.notices import notice
from studio.actor import Actor
from studio.audit import record
from studio.models import AuditAction
owner, team = user(P["name"], P["team"], staff=True)
warnings = [
    notice("tiny_face", "The face is small (about %(px)d px tall); lips will look soft. "
           "A closer shot or a larger video works better.", px=42),
    notice("side_face", "The face is turned to the side in %(pct)d%% of the frames; lip-sync "
           "works best facing the camera.", pct=64),
    notice("missing_face", "No face was found in %(pct)d%% of the frames; those frames keep "
           "their original mouth.", pct=35),
]
p = presenter(team, "Wordy", P["clip"], warnings=warnings)
record(Actor.of(owner), team, AuditAction.UPDATED, p, name=p.name)
project = Project.objects.create(team=team, name="Course")
a = audio(team, "Welcome", P["voice"], project=project)
batch = Batch.objects.create(team=team, project=project, name="Week 1", engine="warp",
                             created_by=owner)
task = RenderTask.objects.create(batch=batch, presenter=p, audio=a, presenter_name=p.name,
                                 audio_name=a.name, status=TaskStatus.SUCCEEDED, percent=100)
asset = MediaAsset.objects.create(
    team=team, project=project, batch=batch, task=task, presenter=p, audio=a,
    title="Wordy × Welcome", download_name="Wordy__Welcome.mp4",
    file=put(P["clip"], f"outputs/{team.pk}/{batch.pk}/1.mp4"), size_bytes=1000,
    duration_s=1.2, engine="warp", created_by=owner)
RenderTask.objects.filter(pk=task.pk).update(output=asset)
batch.refresh_status()
OUT.update(presenter=p.pk, audio=a.pk, asset=asset.pk)
"""


@pytest.mark.parametrize("lang", list(LANGS))
def test_library_fixes(lang, new_page, stack, test_media, artifacts):
    t = LANGS[lang]
    made = seed(
        stack,
        SETUP,
        name=f"lib-{lang}",
        team=f"Library {lang}",
        clip=test_media["presenters"][0],
        voice=test_media["audio"],
    )
    page = new_page(t["locale"])
    login(page, f"lib-{lang}")

    # Zip of nothing: the button waits for a ticked box; the server answers with the page.
    page.goto("/media/")
    button = page.get_by_test_id("zip-selected")
    assert button.is_disabled()
    page.get_by_test_id("media-select").first.check()
    assert button.is_enabled()
    page.get_by_test_id("media-select").first.uncheck()
    assert button.is_disabled()
    shot(page, artifacts, f"{lang}-media-zip-disabled")
    with page.expect_navigation():
        page.evaluate(
            """() => { const f = document.querySelector('[data-testid=media-selection]');
                       f.querySelectorAll('input[name=id]').forEach(i => { i.checked = false; });
                       f.submit(); }"""
        )
    assert page.url.endswith("/media/")
    assert t["zip_empty"] in page.get_by_test_id("messages").inner_text()
    assert page.get_by_test_id("media-grid").is_visible()
    page.goto(f"/media/{made['asset']}/")
    assert page.get_by_test_id("asset-engine").inner_text() == t["engine"]

    # Warnings on the card: two whole lines, the rest on hover or keyboard focus.
    page.goto("/presenters/")
    warning = page.get_by_test_id("presenter-warning").first
    geometry = warning.evaluate(
        """el => { const box = el.querySelector('.clamp-text');
                   const cs = getComputedStyle(box);
                   const line = parseFloat(cs.lineHeight);
                   return { height: box.getBoundingClientRect().height, line,
                            clipped: box.scrollHeight > box.clientHeight + 1,
                            padBottom: parseFloat(cs.paddingBottom),
                            boxOverflow: getComputedStyle(el).overflow }; }"""
    )
    assert geometry["clipped"], "three warnings do not fit in two lines"
    assert geometry["padBottom"] == 0 and geometry["boxOverflow"] == "visible"
    lines = geometry["height"] / geometry["line"]
    assert abs(lines - round(lines)) < 0.05 and round(lines) == 2, geometry
    shot(page, artifacts, f"{lang}-presenter-card-warning-clamped")
    warning.focus()
    assert not warning.evaluate(
        "el => { const b = el.querySelector('.clamp-text'); "
        "return b.scrollHeight > b.clientHeight + 1; }"
    ), "focused: the whole text shows"
    shot(page, artifacts, f"{lang}-presenter-card-warning-focused")
    page.goto(f"/presenters/{made['presenter']}/")
    assert page.get_by_test_id("presenter-warning").count() == 3

    # Deleting a presenter: what goes, what stays.
    page.get_by_test_id("presenter-delete").click()
    assert page.get_by_test_id("delete-removes").inner_text().startswith(t["removed"])
    assert t["kept"] in page.get_by_test_id("delete-keeps").inner_text()
    shot(page, artifacts, f"{lang}-presenter-delete-says-what-stays")

    # The audio library: in the navigation, uploads without a project, format in words.
    page.get_by_test_id("nav-audio").click()
    assert page.get_by_test_id("nav-audio").inner_text() == t["audio_nav"]
    assert page.locator("h1").first.inner_text() == t["library"]
    choose_files(page, "upload-input-audio", [str(test_media["audio"])])
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=audio-row]').length === 2", timeout=60_000
    )
    assert page.get_by_test_id("audio-no-project").count() == 1
    shot(page, artifacts, f"{lang}-audio-library")
    page.goto(f"/audio/{made['audio']}/")
    assert page.get_by_test_id("audio-format").inner_text() == t["codec"]

    # The admin's audit log: headers, filters and kinds of target in the reader's language.
    page.goto("/admin/studio/auditevent/")
    headers = page.locator("#result_list thead th").all_inner_texts()
    for header in t["audit_headers"]:
        assert any(header.lower() == h.strip().lower() for h in headers), (header, headers)
    assert t["audit_kind"] in page.locator("#result_list tbody").inner_text()
    filters = page.locator("#changelist-filter").inner_text().lower()
    assert t["audit_headers"][4].lower() in filters and t["audit_kind"] in filters
    shot(page, artifacts, f"{lang}-admin-audit-log")
    assert page.js_errors == []
