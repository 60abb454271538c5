"""``[enforcement]``: the ladder, the legal mapping and the review settings are data; mistakes name file, line and key."""

from __future__ import annotations

import pytest

from core.config import ConfigErrors, load_file
from core.violations.settings import Ladder, LadderStep
from core.violations.states import ALLOWED, STATES, refusal

ROOT_FILES = ("plugins.toml", "deploy/polri.toml", "deploy/dishub.toml")


@pytest.mark.parametrize("path", ROOT_FILES)
def test_the_shipped_deployments_carry_balikpapans_ladder_and_law(path):
    from pathlib import Path

    enforcement = load_file(Path(__file__).resolve().parent.parent / path).deployment.enforcement
    assert [s.name for s in enforcement.ladder.steps] == ["teguran", "stiker", "kempes_ban", "derek"]
    parking = enforcement.laws["parking.violation"]
    assert (parking.pasal, parking.ayat, parking.max_fine) == ("287", "3", 250000)
    assert enforcement.laws["red_light.violation"].max_fine == 500000


def test_the_step_is_the_highest_one_the_count_reaches():
    ladder = Ladder(steps=[LadderStep(name="teguran", after=0), LadderStep(name="stiker", after=2),
                           LadderStep(name="derek", after=5)])
    assert [ladder.step_for(n).name for n in range(7)] == ["teguran"] * 2 + ["stiker"] * 3 + ["derek"] * 2


BAD = [
    ("[enforcement.ladder]\nsteps = [{ name = \"stiker\", after = 1 }]\n", "enforcement.ladder.steps",
     "the first step (stiker) must have after = 0: every offence gets a step"),
    ("[enforcement.ladder]\nsteps = [{ name = \"teguran\", after = 0 }, { name = \"derek\", after = 0 }]\n",
     "enforcement.ladder.steps", "step derek: after = 0 must be greater than teguran's 0"),
    ("[enforcement.ladder]\nwindow_days = 0\nsteps = [{ name = \"teguran\", after = 0 }]\n", "enforcement.ladder.window_days",
     "Input should be greater than or equal to 1"),
    ("[enforcement.area_ladders.wika]\nsteps = [{ name = \"teguran\", after = 0 }]\n", "enforcement.area_ladders.wika",
     "unknown area 'wika' (declared: beller, beruang_madu)"),
    ("[enforcement.laws.\"parking.violation\"]\nlaw = \"UU 22/2009\"\npasal = \"287\"\nmax_fine = -5\n",
     "enforcement.laws.parking.violation.max_fine", "Input should be greater than or equal to 0"),
    ("[enforcement.laws.\"Parkir Liar\"]\nlaw = \"UU 22/2009\"\npasal = \"287\"\nmax_fine = 5\n", "enforcement.laws",
     "'Parkir Liar' is not an event kind"),
    ("[enforcement]\nplate_confidence = 1.5\n", "enforcement.plate_confidence", "Input should be less than or equal to 1"),
    ("[enforcement]\nrejection_reasons = [\"duplicate\", \"duplicate\"]\n", "enforcement.rejection_reasons",
     "rejection reasons repeated"),
]


@pytest.mark.parametrize("table,key,reason", BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_a_mistake_names_the_file_the_line_and_the_key(make_deployment, table, key, reason):
    d = make_deployment(table)
    with pytest.raises(ConfigErrors) as caught:
        load_file(d.path)
    [error] = caught.value.errors
    assert error.file == str(d.path) and error.key == key, error
    assert error.reason.startswith(reason), error
    text = d.path.read_text().splitlines()
    assert error.line is not None and text[error.line - 1].strip(), error
    assert text.index(table.splitlines()[0]) + 1 <= error.line, (error, text[error.line - 1])


def test_every_state_is_reachable_and_final_states_say_so():
    reached = {"detected"} | {to for moves in ALLOWED.values() for to in moves}
    assert reached == set(STATES)
    assert refusal("closed", "verified") == "the violation is closed; it cannot become verified (from closed: none: it is final)"
    assert refusal("awaiting_review", "verified") is None


def test_the_administrators_guide_documents_every_route_state_and_key():
    from pathlib import Path

    from core.violations.api import ViolationsApi
    from core.violations.settings import EnforcementSettings, LegalBasis

    text = (Path(__file__).resolve().parent.parent / "docs" / "enforcement.md").read_text()
    for route in ViolationsApi().routes():
        path = route.path.replace("{violation_id}", "{id}")
        tail = path.rsplit("/", 1)[-1]
        assert path in text or f"`/{tail}`" in text or f"`{tail}`" in text, path
    for state in STATES:
        assert f"| `{state}` |" in text, state
    for key in [*EnforcementSettings.model_fields, *LegalBasis.model_fields]:
        assert key in text, key
