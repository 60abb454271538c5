"""Crime watch's clothing colour (plugins/crime_watch/clothing.py): what is read of a box, and when two differ.

The pictures are drawn here (a shirt and trousers on a background); the rule's use of the colours is tested in
test_crime_watch_rule.py, and on the simulator's rendered people by the evaluation (docs/rules.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from core.analytics.tracker import Track
from plugins.crime_watch import clothing

PEOPLE = frozenset({"person"})


def _person(tid: int, box, state: str = "tracked", label: str = "person") -> Track:
    return Track(id=tid, label=label, score=0.9, box=box, state=state, first_seen=0.0, last_seen=1.0, hits=5,
                 stationary_since=0.0, velocity=(0.0, 0.0), history=((1.0, *box),))


def _picture() -> np.ndarray:
    """BGR, grey street; a person at x 100-140, y 50-150: head, a red shirt (y 60-100), blue trousers."""
    img = np.full((200, 300, 3), 128, dtype=np.uint8)
    img[50:60, 112:128] = (60, 90, 140)  # head
    img[60:100, 100:140] = (20, 20, 200)  # shirt: red, in BGR
    img[100:150, 106:134] = (150, 40, 30)  # trousers: blue
    return img


def test_the_colour_read_is_the_upper_body_in_rgb_and_only_of_people_seen_now():
    img = _picture()
    box = (100.0, 50.0, 140.0, 150.0)
    colours = clothing.torso_colours(img, [_person(1, box), _person(2, box, state="lost"),
                                           _person(3, box, label="car"), _person(4, (-50.0, -80.0, -10.0, -5.0))],
                                     PEOPLE)
    assert list(colours) == [1]  # lost, not a person, off the picture: nothing read
    r, g, b = colours[1]
    assert r > 150 and g < 60 and b < 60  # the red shirt, not the head, the trousers or the street
    # a box clipped by the picture's edge reads what is inside it
    edge = clothing.torso_colours(img, [_person(5, (110.0, -20.0, 150.0, 110.0))], PEOPLE)
    assert set(edge) == {5}


@pytest.mark.parametrize(("a", "b", "differ"), [
    ((33, 30, 29), (182, 179, 181), True),  # dark and white shirts (seed 1414's crossing walkers)
    ((35, 32, 30), (201, 160, 42), True),  # dark and yellow (seed 1111's two doors)
    ((243, 80, 78), (248, 100, 95), False),  # one red shirt over 20 s of a night scene
    ((85, 139, 242), (102, 148, 239), False),  # one blue shirt, lit by a lamp and not
    ((60, 60, 60), (120, 120, 120), False),  # twice as bright: shade, not other clothes
    ((200, 40, 40), (40, 40, 200), True),  # red and blue, equally bright
    (None, (1, 2, 3), False),  # nothing known: no veto
])
def test_two_colours_differ_only_plainly(a, b, differ):
    assert clothing.differ(a, b, ratio=2.5, chroma=0.12) is differ


def test_a_stays_colour_is_a_running_mean():
    colour = clothing.blend(None, (100.0, 0.0, 0.0))
    assert colour == (100.0, 0.0, 0.0)
    assert clothing.blend(colour, (0.0, 0.0, 0.0)) == pytest.approx((80.0, 0.0, 0.0))


def test_colours_are_read_only_for_the_people_asked_about(monkeypatch):
    """The analyzer hands the rule a lazy mapping: people outside watched areas cost no read."""
    img = _picture()
    box = (100.0, 50.0, 140.0, 150.0)
    reads = []
    real = clothing._upper_body
    monkeypatch.setattr(clothing, "_upper_body", lambda image, b: reads.append(b) or real(image, b))
    colours = clothing.TorsoColours(img, [_person(i, box) for i in range(1, 6)] + [_person(9, box, state="lost")],
                                    PEOPLE)
    assert reads == []  # nothing read until asked
    assert colours.get(2) == clothing.torso_colours(img, [_person(2, box)], PEOPLE)[2]
    assert 2 in colours and colours[2] == colours.get(2)
    assert len(reads) == 2  # the one asked about (twice answered from the first read), and torso_colours' own
    assert colours.get(9) is None and 9 not in colours  # lost: no colour, and no read
    assert colours.get(42) is None
    assert len(reads) == 2
