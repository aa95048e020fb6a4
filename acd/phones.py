"""Which agents' phones are on calls the ACD did not place.

An agent may be on a call the ACD knows nothing of: a call transferred to the seat from the
desktop, a consultation dialled to it, a call the agent dialled. The ACD must not offer that
agent a call meanwhile, so the AMI consumer watches the channels on every logged-in agent's
seat: a channel that is not one of the ACD's own legs (whose ids the ACD chose, ``ChannelId``
of its Originate, also the ``Linkedid`` of a Local channel's second half) makes the phone busy
(``AgentPhoneBusy``); when the last such channel hangs up it is free (``AgentPhoneFree``).

Channels, not device states: device state is computed in its own thread in Asterisk and may
arrive after the hang-up of the ACD's own call, which would look like another call.
Sans-I/O like the core: channel events in, which agent changed out.
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
        self._foreign: dict[str, set[str]] = {}  # agent_id -> unique ids of other calls
        self._owner: dict[str, str] = {}  # unique id -> agent_id

    def busy(self, agent_id: str) -> bool:
        return bool(self._foreign.get(agent_id))

    def channel_up(self, agent_id: str, unique_id: str) -> bool:
        """A channel of another call on the agent's seat; True if the phone just became busy."""
        if unique_id in self._owner:
            return False
        calls = self._foreign.setdefault(agent_id, set())
        calls.add(unique_id)
        self._owner[unique_id] = agent_id
        return len(calls) == 1

    def channel_down(self, unique_id: str) -> str | None:
        """A channel hung up; the agent whose phone it left free, if any."""
        agent_id = self._owner.pop(unique_id, None)
        if agent_id is None:
            return None
        calls = self._foreign.get(agent_id, set())
        calls.discard(unique_id)
        if calls:
            return None
        self._foreign.pop(agent_id, None)
        return agent_id

    def reset(
        self, live: Iterable[tuple[str, str, str]], agent_of: Callable[[str], str | None],
        is_acd_leg: Callable[[str, str], bool],
    ) -> None:  # fmt: skip
        """Start again from Asterisk's live channels (unique id, linked id, channel name)."""
        self._foreign.clear()
        self._owner.clear()
        for unique_id, linked_id, channel in live:
            agent_id = agent_of(seat_of(channel))
            if agent_id is not None and not is_acd_leg(unique_id, linked_id):
                self.channel_up(agent_id, unique_id)

    def busy_agents(self) -> set[str]:
        return set(self._foreign)
