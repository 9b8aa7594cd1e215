"""Timeline: output length from the audio, bounce / loop / cut / hold schedules."""

from __future__ import annotations

import numpy as np
import pytest

from lipsync.timeline import (
    DURATION_MODES,
    duration_mode,
    frame_schedule,
    n_output_frames,
    planned_frames,
)


def test_n_output_frames():
    assert n_output_frames(7.0256, 25) == 176
    assert n_output_frames(1.0, 25) == 25
    assert n_output_frames(0.02, 25) == 1  # half a frame rounds up
    assert n_output_frames(0.0, 25) == 0
    assert n_output_frames(10.0, 30000 / 1001) == 300
    with pytest.raises(ValueError):
        n_output_frames(1.0, 0)


def test_pingpong_turns_without_repeating():
    s = frame_schedule(4, 15)
    assert s.tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2]
    long = frame_schedule(50, 1000)
    assert (np.abs(np.diff(long)) == 1).all()  # every step moves by one frame: no jump
    assert long.min() == 0 and long.max() == 49


def test_two_frame_source_alternates():
    assert frame_schedule(2, 6).tolist() == [0, 1, 0, 1, 0, 1]


def test_shorter_audio_cuts_the_clip():
    assert frame_schedule(100, 10).tolist() == list(range(10))
    assert frame_schedule(100, 10, "loop").tolist() == list(range(10))
    assert frame_schedule(5, 0).tolist() == []


def test_loop_mode():
    assert frame_schedule(3, 8, "loop").tolist() == [0, 1, 2, 0, 1, 2, 0, 1]


def test_still_source_is_all_zeros():
    for mode in (*DURATION_MODES, "pingpong"):
        s = frame_schedule(1, 7, mode)
        assert s.tolist() == [0] * 7 and s.dtype == np.int64


def test_bad_arguments():
    with pytest.raises(ValueError, match="no frames"):
        frame_schedule(0, 5)
    with pytest.raises(ValueError, match="unknown duration mode"):
        frame_schedule(5, 5, "reverse")


def test_hold_plays_once_then_keeps_the_last_frame():
    assert frame_schedule(4, 9, "hold").tolist() == [0, 1, 2, 3, 3, 3, 3, 3, 3]
    assert planned_frames(4, 9, "hold") == 9


def test_cut_ends_the_output_with_the_clip():
    assert planned_frames(4, 9, "cut") == 4
    assert frame_schedule(4, planned_frames(4, 9, "cut"), "cut").tolist() == [0, 1, 2, 3]
    assert planned_frames(40, 9, "cut") == 9  # shorter speech: cut at the speech, as always
    assert planned_frames(1, 9, "cut", still=True) == 9  # a photo has no end to cut at


def test_modes_agree_while_the_clip_lasts_and_names():
    for mode in DURATION_MODES:
        assert frame_schedule(10, 10, mode).tolist() == list(range(10))
        assert planned_frames(10, 25, mode) == (10 if mode == "cut" else 25)
    assert duration_mode("pingpong") == "bounce"
    assert frame_schedule(4, 15, "pingpong").tolist() == frame_schedule(4, 15, "bounce").tolist()
