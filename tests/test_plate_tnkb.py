"""The plate reader's TNKB rules, fix-ups, voting and colour, without OCR (fast)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from plugins.plate_reader.colour import classify
from plugins.plate_reader.config import Config
from plugins.plate_reader.ocr import Char, RawRead, _decode_alnum, _groups
from plugins.plate_reader.tnkb import Plate, Rules, class_for_number, fix, normalise, parse, problems
from plugins.plate_reader.vote import FrameRead, frame_read, vote
from plugins.traffic_sim.plate_art import plate_image
from plugins.traffic_sim.plates import Plate as SimPlate

RULES = Rules()


@pytest.mark.parametrize(
    "text, want",
    [
        ("kt 1234-ab", "KT1234AB"),
        (" KT.1234.AB ", "KT1234AB"),
        ("B 1 A", "B1A"),
        ("[KT 8675 E]", "KT8675E"),
        ("127-RFS", "127RFS"),
        ("", ""),
    ],
)
def test_normalise(text, want):
    assert normalise(text) == want


@pytest.mark.parametrize(
    "text, want",
    [
        ("KT 1234 AB", Plate("KT", 1234, "AB")),
        ("B 1", Plate("B", 1, "")),
        ("DA 9999 XYZ", Plate("DA", 9999, "XYZ")),
        ("L 908 XJ", Plate("L", 908, "XJ")),
        ("KT 0123 AB", None),  # leading zero
        ("KT 12345 A", None),  # five digits
        ("KTX 123", None),  # three-letter area
        ("KT 12 ABCD", None),  # four-letter series
        ("1234 AB", None),
        ("KT AB", None),
        ("127-RFS", None),
    ],
)
def test_parse(text, want):
    assert parse(text) == want


def test_plate_text_forms():
    p = Plate("KT", 1234, "AB")
    assert (p.text, p.normalised) == ("KT 1234 AB", "KT1234AB")
    assert Plate("B", 7, "").text == "B 7"


@pytest.mark.parametrize(
    "number, cls",
    [(1, "car"), (1999, "car"), (2000, "motorcycle"), (6999, "motorcycle"), (7000, "bus"), (7999, "bus"),
     (8000, "truck"), (8999, "truck"), (9000, "special"), (9999, "special")],
)  # fmt: skip
def test_number_ranges_outside_jakarta(number, cls):
    assert class_for_number(number) == cls


def test_problems_name_each_fault():
    assert problems(Plate("KT", 1234, "AB")) == []
    assert problems(Plate("XX", 1234, "AB")) == ["unknown area code 'XX'"]
    assert problems(Plate("KT", 2345, "AB"), vehicle_class="car") == [
        "number 2345 is a motorcycle number, outside the car range 1-1999"
    ]
    assert problems(Plate("KT", 2345, "AB"), vehicle_class="motorcycle") == []
    assert problems(Plate("KT", 2345, "AB"), vehicle_class="person") == []  # no range: not checked
    assert problems(None) == ["not in TNKB shape (1-2 letters, a number 1-9999, 0-3 letters)"]


def test_rules_are_data():
    jakarta_like = Rules(frozenset({"B"}), {"car": (1, 2999), "motorcycle": (3000, 6999)})
    assert problems(Plate("B", 2500, "XY"), jakarta_like, "car") == []
    assert problems(Plate("KT", 2500, "XY"), jakarta_like) == ["unknown area code 'KT'"]
    assert problems(Plate("B", 9500, "XY"), jakarta_like) == ["number 9500 in no configured vehicle-class range"]


@pytest.mark.parametrize(
    "read, want, swaps",
    [
        ("KT1234AB", "KT1234AB", 0),
        ("KT 1234 Al", "KT1234AL", 0),  # a letter where a letter stands cannot be told from the shape
        ("KTI234AB", "KT1234AB", 1),  # I -> 1 in the number
        ("KT1Z34AB", "KT1234AB", 1),  # Z -> 2
        ("KT12S4AB", "KT1254AB", 1),  # S -> 5
        ("KT1234A8", "KT1234AB", 1),  # 8 -> B in the series
        ("KT1O34AB", "KT1034AB", 1),  # O -> 0
        ("KT1G34AB", "KT1634AB", 1),  # G -> 6
        ("KT1234A0", "KT1234AO", 1),  # 0 -> O
        ("KT1B34", "KT1834", 1),  # B -> 8
        ("KT1234S5", "KT1234SS", 1),
        ("8 1234 CD", "B1234CD", 1),
        ("KTL234", "KT1234", 1),  # L -> 1
        ("KT 191", "KT191", 0),
    ],
)
def test_fixups_put_letters_and_digits_where_they_belong(read, want, swaps):
    fixed = fix(read)
    assert fixed is not None and fixed.plate.normalised == want
    assert fixed.fixups == swaps == len(fixed.swaps)


def test_fix_prefers_a_split_that_validates_for_the_vehicle_class():
    # "K71234AB": "KT 1234 AB" (car) and "K 7123 AAB" (bus) need one swap each
    assert fix("K71234AB", vehicle_class="car").plate.normalised == "KT1234AB"
    assert fix("K71234AB", vehicle_class="bus").plate.normalised == "K7123AAB"
    # "D4 1234": "DA 1234" (car) or "D 4123 A" (motorcycle)
    assert fix("D41234", vehicle_class="car").plate.normalised == "DA1234"
    assert fix("D41234", vehicle_class="motorcycle").plate.normalised == "D4123A"
    # "K7 1234": "KT 1234" (car) or "K 7123 A" (bus)
    assert fix("K7 1234", vehicle_class="car").plate.normalised == "KT1234"


def test_fix_uses_the_recognisers_own_alternative_when_no_lookalike_is_known():
    # 'W' in the number has no look-alike digit; the recogniser's best digit there was 3
    chars = tuple(Char(c, 0.9, c, 0.9, "3", 0.05) for c in "KT1W34AB")
    assert fix(chars).plate.normalised == "KT1334AB"


@pytest.mark.parametrize("read", ["", "12345678901", "KTXYZABCD", "KT12345678"])
def test_fix_gives_up_when_no_shape_fits(read):
    assert fix(read) is None


def _raw(text: str, prob: float = 0.95) -> RawRead:
    return RawRead(text, tuple(Char(c, prob, c, prob, c, prob) for c in normalise(text)))


def test_frame_read_lowers_confidence_per_swap():
    clean = frame_read(_raw("KT1234AB"), RULES, 0.85)
    one = frame_read(_raw("KTI234AB"), RULES, 0.85)
    two = frame_read(_raw("KTI2S4AB"), RULES, 0.85)
    assert (clean.text, one.text, two.text) == ("KT1234AB", "KT1234AB", "KT1254AB")
    assert clean.confidence == pytest.approx(0.95)
    assert one.confidence == pytest.approx(0.95 * 0.85)
    assert two.confidence == pytest.approx(0.95 * 0.85**2)
    assert (clean.fixups, one.fixups, two.fixups) == (0, 1, 2)


def test_frame_read_keeps_a_read_that_no_swap_makes_valid():
    r = frame_read(_raw("127-RFS"), RULES, 0.85)
    assert (r.text, r.valid, r.fixups) == ("127RFS", False, 0)


def test_vote_majority_wins_and_agreement_is_per_character():
    reads = [frame_read(_raw(t), RULES, 0.85) for t in ("KT1234AB", "KT1234AB", "KT1234AB", "KT1284AB")]
    got = vote(reads, "white", RULES, 0.5, "car")
    assert (got.text, got.display, got.votes, got.frames, got.valid) == ("KT1234AB", "KT 1234 AB", 3, 4, True)
    assert got.agreement == (1.0, 1.0, 1.0, 1.0, 0.75, 1.0, 1.0, 1.0)
    assert got.confidence == pytest.approx(0.95 * 0.75, abs=1e-3)  # mean of the winners x their share
    assert got.ticket_ready and not got.needs_manual_entry


def test_vote_disagreement_lowers_confidence_and_sends_to_manual_entry():
    reads = [frame_read(_raw(t), RULES, 0.85) for t in ("KT1234AB", "KT1284AB")]
    got = vote(reads, "white", RULES, 0.8)
    assert got.confidence < 0.5
    assert got.needs_manual_entry and not got.ticket_ready
    assert any("below 0.80" in r for r in got.reasons)


def test_vote_invalid_reads_weigh_half():
    reads = [frame_read(_raw("KT1234AB"), RULES, 0.85), frame_read(_raw("XQ1234AB"), RULES, 0.85)]
    assert reads[1].valid is False
    got = vote(reads, "white", RULES, 0.5)
    assert got.text == "KT1234AB" and got.confidence == pytest.approx(0.95 * 2 / 3, abs=1e-3)


def test_a_confident_but_invalid_read_needs_manual_entry():
    got = vote([frame_read(_raw("KT2345AB", 0.99), RULES, 0.85)], "white", RULES, 0.5, "car")
    assert got.text == "KT2345AB" and not got.valid and got.needs_manual_entry
    assert got.reasons == ("number 2345 is a motorcycle number, outside the car range 1-1999",)


def test_a_valid_read_below_the_threshold_needs_manual_entry():
    got = vote([frame_read(_raw("KT1234AB", 0.6), RULES, 0.85)], "white", RULES, 0.8)
    assert got.valid and got.needs_manual_entry and got.reasons == ("confidence 0.60 below 0.80",)


def test_nothing_read_needs_manual_entry():
    got = vote([FrameRead("", "", 0.0, 0), FrameRead("", "", 0.0, 0)], "unknown", RULES, 0.8)
    assert (got.text, got.frames, got.votes, got.reasons) == ("", 2, 0, ("no text read",))
    assert got.needs_manual_entry


def test_decode_folds_case_and_keeps_alternatives():
    alphabet = ["blank", "K", "t", "1", "]", "J"]
    probs = np.array(
        [[0.1, 0.9, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0.2, 0, 0.7, 0.1, 0, 0], [1, 0, 0, 0, 0, 0],
         [0.1, 0, 0, 0, 0.6, 0.3]]
    )  # fmt: skip
    chars = _decode_alnum(probs, _groups(alphabet))
    assert "".join(c.char for c in chars) == "KTJ"  # 't' folded to T; ']' is no plate character, J is
    t = chars[1]
    assert t.prob == pytest.approx(0.7) and t.digit == "1" and t.digit_prob == pytest.approx(0.1)
    assert chars[2].prob == pytest.approx(0.75)


def _coloured(bg, fg) -> np.ndarray:
    arr = np.asarray(plate_image(SimPlate("KT", 1234, "AB"), "white")).copy()
    light = arr.mean(axis=2) > 128
    arr[light], arr[~light] = bg, fg
    return arr


@pytest.mark.parametrize(
    "bg, fg, want",
    [
        ((245, 245, 242), (15, 15, 15), "white"),
        ((18, 18, 20), (240, 240, 240), "black"),
        ((235, 195, 25), (10, 10, 10), "yellow"),
        ((200, 25, 30), (240, 240, 240), "red"),
        ((25, 140, 65), (10, 10, 10), "green"),
        ((150, 150, 145), (20, 20, 20), "white"),  # a white plate at dusk
    ],
)
@pytest.mark.parametrize("width", [240, 60, 30])
def test_colour_of_the_background(bg, fg, want, width):
    arr = _coloured(bg, fg)
    small = np.asarray(
        __import__("PIL.Image", fromlist=["Image"]).fromarray(arr).resize((width, max(3, width * 76 // 240)))
    )
    assert classify(small).colour == want


def test_colour_of_the_simulators_plates():
    for style in ("white", "black"):
        arr = np.asarray(plate_image(SimPlate("KT", 8675, "E"), style))
        assert classify(arr).colour == style


def test_colour_of_nothing_is_unknown():
    assert classify(np.zeros((1, 1, 3), np.uint8)).colour == "unknown"


def test_config_forbids_unknown_keys_and_checks_its_data():
    assert Config().min_confidence == 0.8
    with pytest.raises(ValidationError, match="min_confidance"):
        Config.model_validate({"min_confidance": 0.9})
    with pytest.raises(ValidationError, match="area codes"):
        Config.model_validate({"area_codes": ["kt"]})
    with pytest.raises(ValidationError, match="number_ranges.car"):
        Config.model_validate({"number_ranges": {"car": [2000, 1]}})
    rules = Config.model_validate({"area_codes": ["KT"], "number_ranges": {"car": [1, 2999]}}).rules()
    assert rules.area_codes == frozenset({"KT"}) and rules.number_ranges == {"car": (1, 2999)}


def test_the_plugin_hands_the_workflow_its_tnkb_rules_as_the_plate_validator(tmp_path):
    from core.plugin_host import load_plugins
    from core.violations.plates import PlateValidator
    from core.violations.plugin import VALIDATOR_HOOK

    deployment = tmp_path / "deployment.toml"
    deployment.write_text(
        f'[deployment]\nname = "t"\n[server]\ndata_dir = "{tmp_path / "data"}"\n[plugins.plate_reader]\n'
    )
    from core.config import load_file

    host = load_plugins(load_file(deployment))
    [(plugin, validator)] = host.registered[VALIDATOR_HOOK]
    assert plugin == "plate_reader" and isinstance(validator, PlateValidator) and validator.name == "tnkb"
    assert validator.normalise("kt 1234-ab") == "KT1234AB"
    assert validator.problem("KT1234AB", "car") is None
    assert validator.problem("KT2500AB", "car") == "number 2500 is a motorcycle number, outside the car range 1-1999"
    assert validator.problem("QQ1234AB", None) == "unknown area code 'QQ'"
    assert validator.problem("1234", None).startswith("not in TNKB shape")
