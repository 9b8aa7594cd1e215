"""Which faces a presenter shows: the people seen, and the faces on one frame to pick from.

The face tracker follows one face (the largest and most central unless a *pick* says which:
see :func:`lipsync.faces.tracker.track_faces`). When more than one person is in the picture, a
user interface shows the faces of :func:`survey_faces` on its frame and lets a person choose;
the choice goes back to the tracker as the centre point of the chosen box, which it applies on
the first frame with faces (the box containing the point, else the nearest face).

Frames are sampled evenly (the first one included), each reached by a seek to the key frame
before it and at most two seconds of decoding, so a long clip is not decoded whole; faces are
looked for with the tracker's own passes, up to a frame of about 1.4 megapixels (a 4K frame
is scanned at that size: faces smaller than about 80 px there are not offered). People are
told apart across frames by the detector's identity embedding where it has one (two faces on
the same frame are always two people); without one, the count is the most faces seen on one
frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from ..track import PathLike
from .detector import Box, FaceDetector
from .tracker import TrackerSettings, detect_all_faces

#: Frames looked at in a video (stills have one).
SAMPLES = 6
#: Most seconds decoded from a key frame towards a sample.
MAX_DECODE_S = 2.0
#: The tracker's passes, without the upsampled one for faces of a few dozen pixels (people in
#: the far background are no presenter to choose, and that pass is most of the cost).
SURVEY_PASSES = TrackerSettings(deep_max_pixels=1_400_000)


@dataclass(frozen=True)
class FaceSurvey:
    """The faces of a presenter: ``boxes`` (left to right) on frame ``frame_index`` (the first
    sampled frame showing the most faces), and how many different people were seen.

    ``image`` is that frame (RGB, rotation applied), for a picture to pick from.
    """

    frame_index: int
    time_s: float
    width: int
    height: int
    boxes: tuple[Box, ...]
    people: int
    frames_sampled: int
    image: np.ndarray = field(repr=False, compare=False)

    @property
    def several(self) -> bool:
        """More than one person: the presenter's face should be chosen by a person."""
        return self.people > 1 or len(self.boxes) > 1

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (``image`` left out)."""
        return {
            "frame": self.frame_index,
            "time_s": round(self.time_s, 3),
            "width": self.width,
            "height": self.height,
            "boxes": [[round(float(v), 1) for v in b] for b in self.boxes],
            "people": self.people,
            "frames_sampled": self.frames_sampled,
        }


def pick_point(box: Box) -> tuple[float, float]:
    """The tracker pick that chooses the face in ``box``: its centre."""
    return ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)


def tracked_number(survey: FaceSurvey, boxes: np.ndarray, present: np.ndarray) -> int | None:
    """The number (1 = leftmost) of the survey's face that a face track follows, judged on the
    survey's frame (``boxes``/``present``: the track's rows); None when it is not there."""
    k = survey.frame_index
    if not 0 <= k < len(present) or not bool(present[k]) or not survey.boxes:
        return None
    x0, y0, x1, y1 = (float(v) for v in boxes[k])
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    dists = [float(np.linalg.norm(centre - np.array(pick_point(b)))) for b in survey.boxes]
    return int(np.argmin(dists)) + 1


def _sample_frames(path: str, samples: int) -> list[tuple[int, float, np.ndarray]]:
    """(index at the source's constant rate, time, RGB) of up to ``samples`` frames spread
    over the presenter, the first one included."""
    import av

    from ..media.probe import probe
    from ..media.video import open_video

    with open_video(path) as video:
        if video.is_image or video.frame_count <= 1:
            first = next(iter(video.frames()), None)
            return [] if first is None else [(0, 0.0, first.image)]
        fps, n = video.fps, video.frame_count
    rotation = probe(path).rotation
    wanted = sorted({int(round(k)) for k in np.linspace(0, n - 1, min(samples, n))})
    out: list[tuple[int, float, np.ndarray]] = []
    seen: set[int] = set()
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = Fraction(stream.time_base or Fraction(1, 90000))
        origin = stream.start_time or 0
        for k in wanted:
            # From the key frame at or before the sample time, decode on towards it for at
            # most MAX_DECODE_S (a clip with few key frames still shows its later frames; a
            # long gap costs no more than that).
            target = k / fps
            container.seek(int(target / tb) + origin, stream=stream, backward=True)
            frame, budget = None, int(MAX_DECODE_S * fps)
            for decoded, candidate in enumerate(container.decode(stream)):
                frame = candidate
                t = float((frame.pts - origin) * tb) if frame.pts is not None else target
                if t >= target - 0.5 / fps or decoded >= budget:
                    break
            if frame is None:
                continue
            t = float((frame.pts - origin) * tb) if frame.pts is not None else target
            index = min(max(int(round(t * fps)), 0), n - 1)
            if index in seen:
                continue
            seen.add(index)
            image: np.ndarray = frame.to_ndarray(format="rgb24")
            turns = (rotation // 90) % 4
            if turns:
                image = np.ascontiguousarray(np.rot90(image, k=turns))
            out.append((index, index / fps, image))
    return out


def _count_people(
    faces: list[list[np.ndarray | None]], same_distance: float, most_on_a_frame: int
) -> int:
    """People among the faces of each frame (their embeddings, or None where there is none)."""
    known = [[v for v in frame if v is not None] for frame in faces]
    if sum(map(len, known)) < sum(map(len, faces)):
        return most_on_a_frame
    people: list[np.ndarray] = []
    for frame in known:
        taken: set[int] = set()
        for vec in frame:
            dists = [
                (float(np.linalg.norm(vec - p)), i) for i, p in enumerate(people) if i not in taken
            ]
            near = min(dists, default=(np.inf, -1))
            if near[0] < same_distance:
                taken.add(near[1])
            else:
                people.append(vec)
                taken.add(len(people) - 1)
    return max(len(people), most_on_a_frame)


def survey_faces(
    path: PathLike, detector: FaceDetector | None = None, samples: int = SAMPLES
) -> FaceSurvey | None:
    """The faces :class:`FaceSurvey` describes, or None when no sampled frame shows one."""
    from .detector import get_detector

    detector = detector or get_detector()
    frames = _sample_frames(os.fspath(path), samples)
    best: tuple[int, float, np.ndarray, list[Box]] | None = None
    embeddings: list[list[np.ndarray | None]] = []
    for index, t, image in frames:
        found = detect_all_faces(image, detector, SURVEY_PASSES)
        boxes = [d.box for d in found]
        if best is None or len(boxes) > len(best[3]):
            best = (index, t, image, boxes)
        embeddings.append([detector.descriptor(image, detector.landmarks(image, b)) for b in boxes])
    if best is None or not best[3]:
        return None
    index, t, image, boxes = best
    most = max(len(e) for e in embeddings)
    return FaceSurvey(
        frame_index=index,
        time_s=t,
        width=int(image.shape[1]),
        height=int(image.shape[0]),
        boxes=tuple(boxes),
        people=_count_people(embeddings, detector.same_person_distance, most),
        frames_sampled=len(frames),
        image=image,
    )
