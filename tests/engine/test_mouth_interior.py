"""The drawn mouth interior: shape, shading, teeth, soft edges, determinism."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lipsync.mouth.interior import draw_interior, neutral_teeth
from lipsync.mouth.pose import FaceFrame

LIPS = np.array([170, 80, 80], np.float32)
TEETH = np.array([225, 220, 210], np.float32)
H = 200.0  # face height in pixels (a 720p head-and-shoulders shot)


def _ff() -> FaceFrame:
    return FaceFrame(
        np.array([1, 0], np.float32),
        np.array([0, 1], np.float32),
        H,
        np.array([150, 100], np.float32),
        100.0,
    )


def _inner(gap: float, lower_side: float = 0.85) -> np.ndarray:
    """Inner lip points 60-67: corners at x=100 and 200, y=100; ``gap`` in pixels."""
    up = 0.22 * gap * np.array([0.9, 1.0, 0.9])
    lo = 0.78 * gap * np.array([lower_side, 1.0, lower_side])
    return np.array(
        [
            [100, 100],
            [125, 100 - up[0]],
            [150, 100 - up[1]],
            [175, 100 - up[2]],
            [200, 100],
            [175, 100 + lo[2]],
            [150, 100 + lo[1]],
            [125, 100 + lo[0]],
        ],
        np.float32,
    )


def _draw(gap: float, **kw) -> np.ndarray:
    region = np.empty((200, 300, 3), np.uint8)
    region[:] = LIPS.astype(np.uint8)
    draw_interior(region, _inner(gap, **kw), _ff(), LIPS, TEETH)
    return region


def _lum(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32).mean(2)


def test_closed_lips_get_no_interior():
    assert (_draw(0.3) == LIPS.astype(np.uint8)).all()


def test_open_mouth_has_a_dark_warm_cavity_and_teeth_under_the_upper_lip():
    img = _draw(0.12 * H)
    lum = _lum(img)
    col = img[:, 150].astype(np.float32)
    top, bottom = int(100 - 0.22 * 0.12 * H), int(100 + 0.78 * 0.12 * H)
    # Teeth hang from the upper lip: the brightest pixels of the middle column are there.
    teeth_rows = np.arange(top, top + 8)
    cavity_rows = np.arange(top + 12, bottom - 4)
    assert lum[teeth_rows, 150].max() > 1.1 * LIPS.mean()
    # The side teeth recede into shade.
    assert lum[teeth_rows, 118].max() < 0.9 * lum[teeth_rows, 150].max()
    assert lum[cavity_rows, 150].max() < 0.5 * lum[teeth_rows, 150].max()
    assert lum[cavity_rows, 150].min() < 0.35 * LIPS.mean()
    # The cavity is a shade of the lips (red-brown), not grey or black.
    deep = col[cavity_rows].mean(0)
    assert deep[0] > deep[1] + 5 and deep[0] > deep[2] + 5
    # Darker in the middle than near the lower lip.
    assert lum[(top + bottom) // 2, 150] < lum[bottom - 2, 150]


def test_a_slightly_open_mouth_shows_no_teeth():
    img = _draw(0.008 * H)
    assert _lum(img).max() <= LIPS.mean() + 1


@pytest.mark.parametrize("opening", [0.03, 0.1, 0.15])
def test_edges_where_lips_meet_the_cavity_are_soft(opening):
    img = _draw(opening * H)
    lum = _lum(img)
    inside = lum < LIPS.mean() - 2
    contrast = LIPS.mean() - lum[inside].min()
    # Largest step between neighbouring pixels along each column and row, away from the teeth.
    no_teeth = cv2.erode((lum <= LIPS.mean() + 1).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert no_teeth[inside].mean() > 0.3
    dy = np.abs(np.diff(lum, axis=0))[no_teeth[1:] & no_teeth[:-1]]
    dx = np.abs(np.diff(lum, axis=1))[no_teeth[:, 1:] & no_teeth[:, :-1]]
    assert max(dy.max(), dx.max()) < 0.6 * contrast


def test_a_v_shaped_smile_opening_is_drawn_rounded():
    # The lower landmarks beside the middle sit on the straight line corner-middle (a "V").
    img = _draw(0.1 * H, lower_side=0.5)
    dark = _lum(img) < LIPS.mean() - 20

    def depth_at(x):
        return int(np.nonzero(dark[:, x])[0].max()) - 100

    mid = depth_at(150)
    # A rounded (U-shaped) lower edge is deeper at a quarter of the width than the V (0.5).
    assert depth_at(125) > 0.72 * mid
    # and it tapers into the corners instead of ending in a blunt cut.
    assert depth_at(102) < 0.25 * mid


def test_equal_inputs_give_equal_pixels_and_opening_changes_smoothly():
    a, b = _draw(0.1 * H), _draw(0.1 * H)
    assert (a == b).all()
    c = _draw(0.102 * H)
    # A 2 % larger opening moves few pixels by much (no pops from thresholds or randomness).
    assert (np.abs(a.astype(int) - c.astype(int)).max(2) > 40).mean() < 0.01


def test_neutral_teeth_follow_the_pictures_light():
    lm = np.zeros((68, 2), np.float32)
    lm[48], lm[54], lm[33], lm[8] = (40, 60), (80, 60), (60, 40), (60, 100)
    warm = np.full((120, 120, 3), (200, 150, 130), np.uint8)
    cool = np.full((120, 120, 3), (130, 150, 200), np.uint8)
    dim = (warm * 0.4).astype(np.uint8)
    tw, tc, td = neutral_teeth(warm, lm), neutral_teeth(cool, lm), neutral_teeth(dim, lm)
    assert tw[0] > tw[2] and tc[2] > tc[0]
    assert td.mean() < 0.7 * tw.mean()
    assert tw.min() > 150  # off-white, not skin-coloured
    assert (np.ptp(tw) < 40) and (np.ptp(tc) < 40)


@pytest.mark.parametrize("opacity", [0.0, 0.5, 1.0])
def test_opacity_blends_with_the_warped_template(opacity):
    region = np.empty((200, 300, 3), np.uint8)
    region[:] = LIPS.astype(np.uint8)
    draw_interior(region, _inner(0.1 * H), _ff(), LIPS, TEETH, opacity=opacity)
    full = _draw(0.1 * H)
    diff = np.abs(region.astype(float) - LIPS).max()
    if opacity == 0.0:
        assert diff == 0
    else:
        expect = LIPS + (full.astype(float) - LIPS) * opacity
        assert np.abs(region - expect).max() <= 1.5


def test_teeth_and_their_gaps_left_on_closed_lips_are_repainted_with_the_local_lip():
    from lipsync.mouth.interior import clean_lips

    region = np.empty((200, 300, 3), np.float32)
    shade = np.linspace(0.8, 1.1, 200, dtype=np.float32)[:, None, None]
    region[:] = LIPS * shade  # lips lit from below: a vertical gradient
    before = region.copy()
    # A squeezed row of teeth (bright, grey) with dark gaps on the lower lip.
    for x in range(120, 180, 6):
        region[108:112, x : x + 5] = (225, 220, 210)
        region[108:112, x + 5] = (40, 35, 35)
    region = region.astype(np.uint8)
    outer = np.array(
        [
            [90, 100],
            [110, 85],
            [130, 80],
            [150, 82],
            [170, 80],
            [190, 85],
            [210, 100],
            [190, 120],
            [170, 128],
            [150, 130],
            [130, 128],
            [110, 120],
        ],
        np.float32,
    )
    closed = _inner(0.0)
    clean_lips(region, outer, closed, _ff(), LIPS)
    err = np.abs(region[106:114, 120:180].astype(np.float32) - before[106:114, 120:180]).max(2)
    assert err.max() < 30
    # Untouched far from the teeth.
    assert (region[125:128, 140:160] == before[125:128, 140:160].astype(np.uint8)).all()


def _closed_lips_with_streak() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Closed lips (meeting at y=100) with what a squeezed smile leaves between them: a wavy
    row of bright teeth bordered by the template's dark lip edge."""
    region = np.empty((200, 300, 3), np.float32)
    shade = np.linspace(0.85, 1.1, 200, dtype=np.float32)[:, None, None]
    region[:] = LIPS * shade
    for x in range(105, 196):
        wave = int(round(1.5 * np.sin(x / 4.0)))
        region[98 + wave : 102 + wave, x] = (225, 220, 210)
        region[97 + wave, x] = (60, 30, 30)
        region[102 + wave, x] = (60, 30, 30)
    outer = np.array(
        [
            [90, 100],
            [110, 88],
            [130, 84],
            [150, 86],
            [170, 84],
            [190, 88],
            [210, 100],
            [190, 112],
            [170, 116],
            [150, 118],
            [130, 116],
            [110, 112],
        ],
        np.float32,
    )
    return region.astype(np.uint8), outer, _inner(0.0), shade


def _seal(region: np.ndarray, outer: np.ndarray, inner: np.ndarray) -> None:
    from lipsync.mouth.interior import draw_seam, fill_lip_line, lip_line

    line = lip_line(outer, inner, _ff())
    assert line is not None
    fill_lip_line(region, line, outer, _ff(), LIPS)
    draw_seam(region, line, _ff(), LIPS)


def test_closed_lips_meet_on_a_smooth_thin_crease_without_teeth():
    region, outer, inner, _ = _closed_lips_with_streak()
    before = region.copy()
    _seal(region, outer, inner)
    lum = _lum(region)
    cols = np.arange(112, 189)
    band = lum[88:113, cols]
    # No teeth left: nothing between the lips is much brighter than the lips.
    assert band.max() < 1.12 * LIPS.mean() * 1.1
    # One dark crease per column, on a smooth line (no jaggies): its row barely deviates
    # from a straight fit, and it is thin.
    rows = 88 + band.argmin(0)
    fit = np.polyval(np.polyfit(cols, rows, 2), cols)
    assert np.abs(rows - fit).max() <= 1.0
    assert band.min() < 0.8 * LIPS.mean()
    dark = (band < 0.85 * LIPS.mean()).sum(0)
    assert dark.max() <= 3
    # Lip texture away from the line is kept.
    assert (region[88:92, 140:160] == before[88:92, 140:160]).all()
    assert (region[150:, :] == before[150:, :]).all()


def test_open_lips_are_left_to_the_interior():
    from lipsync.mouth.interior import draw_seam, fill_lip_line, lip_line

    region, outer, _, _ = _closed_lips_with_streak()
    before = region.copy()
    inner = _inner(0.06 * H)
    line = lip_line(outer, inner, _ff())
    fill_lip_line(region, line, outer, _ff(), LIPS)
    draw_seam(region, line, _ff(), LIPS)
    assert (region == before).all()


def test_lip_line_follows_a_smile_smoothly_and_is_stable_under_jitter():
    from lipsync.mouth.interior import lip_line

    _, outer, inner, _ = _closed_lips_with_streak()
    outer = outer.copy()
    outer[[0, 6], 1] -= 8  # corners up: a smile
    inner = inner.copy()
    inner[[0, 4], 1] -= 6
    a = lip_line(outer, inner, _ff())
    ts = np.linspace(-1, 1, 41)
    mid = a.mid(ts)
    assert mid[20] > mid[0] + 4 and mid[20] > mid[-1] + 4
    assert np.abs(np.diff(mid, 2)).max() < 0.5  # a curve, no kinks
    rng = np.random.default_rng(0)
    b = lip_line(outer, inner + rng.normal(0, 0.3, inner.shape).astype(np.float32), _ff())
    assert np.abs(b.mid(ts) - mid).max() < 0.6


# --- the drawn mouth on real presenters whose template never shows it open ------------------

SHARED_STILLS = ("still_photo.png", "still_odd_size.jpeg", "still_painting.png")


def _presenter(name: str):
    """(picture, its landmarks) of a presenter with a closed mouth."""
    from tests.conftest import SHARED_MEDIA
    from tests.engine import interior_metrics as im

    if name == "astronaut-closed":
        return im.closed_mouth_presenter()
    path = SHARED_MEDIA / name
    if not path.exists():
        pytest.skip(f"{path} is not present")
    from PIL import Image

    from tests.engine.warp_fixtures import landmarks_of

    image = np.asarray(Image.open(path).convert("RGB")).copy()
    return image, landmarks_of(image)


PRESENTERS = ["astronaut-closed", *SHARED_STILLS]


@pytest.fixture(scope="module", params=PRESENTERS)
def drawn(request):
    from tests.engine import interior_metrics as im

    image, lm = _presenter(request.param)
    return request.param, image, [im.draw(image, lm, op) for op in (0.35, 0.7, 1.0)]


def test_the_interior_takes_its_tones_from_the_presenters_lips_and_skin(drawn):
    from tests.engine import interior_metrics as im

    _name, _image, mouths = drawn
    for m in mouths:
        tones = im.tones(m)
        # The cavity is a shade of the lips (their hue, much of their colour), not a
        # grey-brown hole.
        assert tones["cavity_hue_gap"] < 15
        assert im.cavity_chroma_ratio(m) > 0.5
        # The teeth (shown once the mouth is well open) are a light, less coloured version of
        # the skin: its hue, some of its chroma (an ivory of that light, not a cold white).
        if m is mouths[-1]:
            assert tones["teeth_share"] > 0.1
        if tones["teeth_share"] > 0.05:
            assert tones["teeth_hue_gap"] < 20
            assert 0.45 < tones["teeth_chroma_ratio"] < 1.2


def test_no_dark_outline_and_a_soft_edge_where_the_lips_meet_the_interior(drawn):
    from tests.engine import interior_metrics as im

    _name, _image, mouths = drawn
    # Just inside the lower lip the opening is the inside of the lips, a little darker
    # than the lips: no dark rim.
    assert max(im.rim_darkness(m) for m in mouths) < 0.6
    # The brightness changes gently across that edge (per pixel, relative to the lips).
    assert np.mean([im.edge_gradient(m) for m in mouths]) < 0.3


def test_no_flat_slab_of_paint_inside(drawn):
    from tests.engine import interior_metrics as im

    _name, _image, mouths = drawn
    for m in mouths:
        # No flat bright patch (teeth without texture) bigger than 1 % of the opening.
        assert im.flat_bright_share(m) < 0.01


def test_close_ups_for_people_to_judge(drawn):
    """Presenter | drawn mouth at three openings, written to tests/artifacts/."""
    from PIL import Image

    from tests.engine import interior_metrics as im

    name, image, mouths = drawn
    rows = [im.close_up(m, image) for m in mouths]
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows])
    out = (
        Path(__file__).resolve().parents[1] / "artifacts" / f"mouth-interior-{Path(name).stem}.png"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(out)
    assert out.stat().st_size > 0
