"""The MQTT sink's settings and payloads, without a broker: the password's sources, personal data left out."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from support.events import CAMERAS

from core.config import ConfigErrors, load_file
from core.events.types import Event
from core.plugin_host import load_plugins
from core.testing.sinks import check_sink
from plugins.mqtt_events.config import Config, read_password
from plugins.mqtt_events.messages import event_message
from plugins.mqtt_events.plugin import MqttEvents

VERIFIED = {
    "violation_id": 7, "violation_kind": "parking.violation", "violation_mode": "enforcement", "source_event": "0123456789abcdef",
    "plate": "KT1234AB", "plate_source": "ocr", "plate_confidence": 0.93, "vehicle_class": "car",
    "legal": {"pasal": "287", "ayat": "3"}, "ladder_step": "stiker", "offence_count": 1,
    "decided_by": "pof", "officer_name": "Budi Santoso", "decided_at": "2026-01-05T09:05:00Z",
}


def verified() -> Event:
    return Event(kind="violation.verified", camera_id="dcam", wall_time=datetime(2026, 1, 5, 9, tzinfo=timezone.utc),
                 detail=VERIFIED, mode="enforcement", agency="dishub", area="beruang_madu")


def test_violation_messages_leave_out_personal_data_unless_configured():
    topic, raw = event_message(verified(), "bconnect", personal_data=False)
    msg = json.loads(raw)
    assert topic == "bconnect/violations" and msg["type"] == "verified" and msg["after"]["kind"] == "violation.verified"
    detail = msg["after"]["detail"]
    assert set(detail) == {"violation_id", "violation_kind", "violation_mode", "source_event", "vehicle_class", "legal",
                           "ladder_step", "offence_count", "decided_at"}
    assert b"KT1234AB" not in raw and b"Budi" not in raw

    _, raw = event_message(verified(), "bconnect", personal_data=True)
    detail = json.loads(raw)["after"]["detail"]
    assert (detail["plate"], detail["officer_name"], detail["decided_by"]) == ("KT1234AB", "Budi Santoso", "pof")


def test_the_password_comes_from_the_environment_or_a_file_and_is_never_shown(tmp_path, monkeypatch):
    monkeypatch.setenv("MQTT_PASS", "s3cret-env")
    config = Config(username="bconnect", password_env="MQTT_PASS")
    secret = read_password(config, tmp_path)
    assert secret.get_secret_value() == "s3cret-env" and "s3cret" not in repr(secret) + str(secret) + repr(config)

    (tmp_path / "mqtt.pass").write_text("s3cret-file\n")
    assert read_password(Config(username="u", password_file="mqtt.pass"), tmp_path).get_secret_value() == "s3cret-file"

    monkeypatch.delenv("MQTT_PASS")
    with pytest.raises(ValueError, match="MQTT_PASS is not set"):
        read_password(config, tmp_path)
    with pytest.raises(ValueError, match="missing.pass: cannot be read"):
        read_password(Config(username="u", password_file="missing.pass"), tmp_path)
    assert read_password(Config(), tmp_path) is None


@pytest.mark.parametrize("table,why", [
    ('password = "x"', "password"),  # a password in the deployment file is refused: give where it is
    ('username = "u"\npassword_env = "A"\npassword_file = "f"', "not both"),
    ('password_env = "A"', "needs a username"),
    ('topic_prefix = "bconnect/#"', "topic_prefix"),
])
def test_bad_settings_name_the_key(make_deployment, table, why):
    d = make_deployment(CAMERAS + f"[plugins.mqtt_events]\n{table}\n")
    with pytest.raises(ConfigErrors, match=why) as err:
        load_plugins(load_file(d.path))
    assert "plugins.mqtt_events" in str(err.value) and "deployment.toml:" in str(err.value)


async def test_the_sink_keeps_the_outbox_contract_with_no_broker_at_all(tmp_path):
    context = SimpleNamespace(data_dir=tmp_path)  # the constructor reads only the data folder
    made = []

    def sink():
        made.append(MqttEvents(Config(port=1), context))
        return made[-1]

    assert await check_sink(sink) == {}
    assert made[0].outbox.depth > 0  # taken into the outbox, each once
    for s in made:
        s.outbox.close()


async def test_a_password_that_cannot_be_read_shows_in_health_and_events_still_queue(tmp_path, monkeypatch):
    monkeypatch.delenv("BCONNECT_TEST_NO_SUCH", raising=False)
    plugin = MqttEvents(Config(username="u", password_env="BCONNECT_TEST_NO_SUCH"), SimpleNamespace(data_dir=tmp_path))
    await plugin.bconnect_startup(SimpleNamespace())  # gives up before it needs the cameras
    try:
        health = await plugin.bconnect_health(None)
        assert health["status"] == "down" and "BCONNECT_TEST_NO_SUCH is not set" in health["reason"]
        await plugin.deliver(verified())
        assert (await plugin.bconnect_health(None))["outbox"]["depth"] == 1
    finally:
        await plugin.bconnect_shutdown(None)
