"""Which seats' phones are on calls the ACD did not place.

An agent may be on a call the ACD knows nothing of: a call transferred to the seat from the
desktop, a consultation dialled to it, a call the agent dialled, a personal call already going
when the agent logs in. The ACD must not offer that agent a call meanwhile, so the AMI consumer
watches the channels of every seat: a channel that is not one of the ACD's own legs (a
callback's ``ChannelId`` of its Originate, also the ``Linkedid`` of a Local channel's second
half; an offer's channel, dialled by the caller, carries the call's ``Linkedid`` on the offered
agent's seat) makes the seat busy; when the last such channel hangs up it is free. The
consumer turns that into ``AgentPhoneBusy`` / ``AgentPhoneFree`` for the agent logged in at
the seat, also when an agent logs in at a seat that is busy already.

Channels, not device states: device state is computed in its own thread in Asterisk and may
arrive after the hang-up of the ACD's own call, which would look like another call.
Sans-I/O like the core: channel events in, which seat changed out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def seat_of(channel: str) -> str:
    """The dial string a channel belongs to: ``PJSIP/1001-0000000a`` -> ``PJSIP/1001``,
    ``Local/1001@test-phone-00000003;2`` -> ``Local/1001@test-phone``."""
    head, dash, _suffix = channel.rpartition("-")
    return head if dash else channel


class PhoneWatch:
    def __init__(self) -> None:
        self._other: dict[str, set[str]] = {}  # seat -> unique ids of calls not the ACD's
        self._seat: dict[str, str] = {}  # unique id -> seat

    def busy(self, seat: str) -> bool:
        return bool(self._other.get(seat))

    def channel_up(self, seat: str, unique_id: str) -> bool:
        """Another call's channel on the seat; True if the seat just became busy."""
        if unique_id in self._seat:
            return False
        calls = self._other.setdefault(seat, set())
        calls.add(unique_id)
        self._seat[unique_id] = seat
        return len(calls) == 1

    def channel_down(self, unique_id: str) -> str | None:
        """A channel hung up; the seat it left free, if any."""
        seat = self._seat.pop(unique_id, None)
        if seat is None:
            return None
        calls = self._other.get(seat, set())
        calls.discard(unique_id)
        if calls:
            return None
        self._other.pop(seat, None)
        return seat

    def reset(
        self, live: Iterable[tuple[str, str, str]], is_acd_leg: Callable[[str, str], bool]
    ) -> None:
        """Start again from Asterisk's live channels (unique id, linked id, channel name)."""
        self._other.clear()
        self._seat.clear()
        for unique_id, linked_id, channel in live:
            if not is_acd_leg(unique_id, linked_id):
                self.channel_up(seat_of(channel), unique_id)

    def busy_seats(self) -> set[str]:
        return set(self._other)

    def __len__(self) -> int:
        return len(self._seat)
