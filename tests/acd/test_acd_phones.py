"""The phone watch: channels on an agent's seat that are not the ACD's own legs."""

from __future__ import annotations

from hotline.acd.phones import PhoneWatch, seat_of
from hotline.asterisk.ami.events import ChannelCreated, parse_event


def test_seat_of_strips_the_channel_suffix() -> None:
    assert seat_of("PJSIP/1001-0000000a") == "PJSIP/1001"
    assert seat_of("Local/1001@test-phone-00000003;2") == "Local/1001@test-phone"
    assert seat_of("PJSIP/1001") == "PJSIP/1001"


def test_busy_with_the_first_channel_free_after_the_last() -> None:
    watch = PhoneWatch()
    assert watch.channel_up("PJSIP/1001", "u1") is True
    assert watch.channel_up("PJSIP/1001", "u2") is False  # busy already
    assert watch.channel_up("PJSIP/1001", "u1") is False  # the same channel twice counts once
    assert watch.channel_down("u1") is None
    assert watch.busy("PJSIP/1001")
    assert watch.channel_down("u2") == "PJSIP/1001"
    assert not watch.busy("PJSIP/1001") and len(watch) == 0
    assert watch.channel_down("u2") is None  # unknown channels are ignored


def test_reset_from_live_channels_skips_the_acd_legs() -> None:
    watch = PhoneWatch()
    watch.channel_up("PJSIP/9999", "stale")
    live = [
        ("hl-1", "hl-1", "PJSIP/1001-00000001"),  # the ACD's own offer
        ("x;2", "hl-1", "Local/1001@p-00000002;2"),  # its Local half
        ("t-5", "c-1", "PJSIP/1002-00000003"),  # a transferred call
        ("c-1", "c-1", "PJSIP/trunk-00000004"),  # a citizen's channel: a "seat" nobody has
    ]
    watch.reset(live, lambda uid, linked: uid.startswith("hl-") or linked == "hl-1")
    assert watch.busy_seats() == {"PJSIP/1002", "PJSIP/trunk"}
    assert not watch.busy("PJSIP/1001") and not watch.busy("PJSIP/9999")


def test_newchannel_parses_to_channel_created() -> None:
    event = parse_event(
        {"Event": "Newchannel", "Uniqueid": "1.5", "Linkedid": "1.4", "Channel": "PJSIP/1002-1"},
        10.0,
    )
    assert event == ChannelCreated(
        at=10.0, unique_id="1.5", linked_id="1.4", channel="PJSIP/1002-1"
    )
