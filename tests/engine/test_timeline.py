"""Timeline: output length from the audio, ping-pong / loop / cut schedules."""

from __future__ import annotations

import numpy as np
import pytest

from lipsync.timeline import frame_schedule, n_output_frames


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
    for mode in ("pingpong", "loop"):
        s = frame_schedule(1, 7, mode)
        assert s.tolist() == [0] * 7 and s.dtype == np.int64


def test_bad_arguments():
    with pytest.raises(ValueError, match="no frames"):
        frame_schedule(0, 5)
    with pytest.raises(ValueError, match="unknown timeline mode"):
        frame_schedule(5, 5, "bounce")
