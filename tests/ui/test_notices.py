"""Warnings written by a worker read in each viewer's language."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from studio.models import AudioTrack, MediaStatus, Project
from studio.notices import Notice, notice
from studio.services.audio_analysis import warnings_for

CLIPPING = {
    "clipping_share": 0.05,
    "longest_silence_s": 0.0,
    "duration_s": 1.0,
    "low_energy_share": 1.0,
    "silent_share": 1.0,
}


def test_notice_keeps_english_message_and_translates_on_reading():
    warning = warnings_for(CLIPPING)[0]
    assert warning.code == "clipping"
    assert warning.message.startswith("The recording clips (5.0% of samples")
    with translation.override("zh-hans"):
        assert warning.text() == "录音有削波（5.0% 的采样达到满幅），听起来会失真。"
    with translation.override("en"):
        assert warning.text() == warning.message


def test_rows_without_a_template_show_their_stored_message():
    old = Notice.from_json({"code": "old", "message": "Stored text"})
    with translation.override("zh-hans"):
        assert old is not None and old.text() == "Stored text"
    assert Notice.from_json({}) is None and Notice.from_json(None) is None


def test_unknown_template_falls_back_to_english_text():
    warning = notice("custom", "Only %(n)d left", n=3)
    with translation.override("zh-hans"):
        assert warning.text() == "Only 3 left"


def test_a_translation_that_lost_a_placeholder_falls_back_to_english(monkeypatch):
    import studio.notices

    monkeypatch.setattr(studio.notices, "gettext", lambda text: "只剩 %(m)d")  # wrong name
    assert notice("custom", "Only %(n)d left", n=3).text() == "Only 3 left"


def test_nested_notices_are_translated_and_round_trip():
    inner = notice("reason", "no audio stream")
    outer = notice("input", "%(file)s: %(reason)s", file="a.wav", reason=inner)
    assert outer.message == "a.wav: no audio stream"
    assert Notice.from_json(outer.to_json()) == outer
    assert outer.to_json()["params"]["reason"]["template"] == "no audio stream"


@pytest.mark.django_db
def test_audio_page_shows_the_warning_in_the_readers_language(member_client, team):
    project = Project.objects.create(team=team, name="Course")
    track = AudioTrack.objects.create(
        project=project,
        name="intro",
        file="audio/x.wav",
        original_filename="x.wav",
        status=MediaStatus.READY,
        duration_s=1.0,
        warnings=warnings_for(CLIPPING),
    )
    url = reverse("audio_detail", args=[track.pk])
    zh = member_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    en = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "录音有削波" in zh and "The recording clips" not in zh
    assert "The recording clips (5.0% of samples at full scale)" in en
