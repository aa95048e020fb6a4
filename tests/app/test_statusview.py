from __future__ import annotations

from hotline.app.statusview import format_status


def test_status_text_flags_calls_over_15_seconds_and_prints_the_figures() -> None:
    data = {
        "ami_connected": True,
        "mqtt_connected": False,
        "waiting": [
            {
                "call_id": "1.1",
                "skill": "consult",
                "priority": 0,
                "state": "waiting",
                "queued_at": 100.0,
            }
        ],
        "agents": [{"state": "ready"}, {"state": "on_call"}, {"state": "ready"}],
        "metrics": {
            "interval": [
                {
                    "skill": "consult",
                    "offered": 4,
                    "answered": 3,
                    "service_level": 0.75,
                    "asa_s": 6.0,
                    "abandoned": 1,
                    "abandoned_short": 1,
                    "longest_wait_s": 20.0,
                    "occupancy": 0.5,
                }
            ],
            "today": [],
        },
    }
    text = format_status(data, now=120.0)
    assert "MQTT DISCONNECTED" in text
    assert "waited 20 s  OVER 15 s" in text
    assert "agents: on_call 1, ready 2" in text
    assert " 75.0%" in text and "consult" in text
