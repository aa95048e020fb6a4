#!/usr/bin/python3
"""The plain-AGI fail-safe: Asterisk runs this itself when our FastAGI server is unreachable.

It must work with the engine, Redis and the database all gone, so it uses nothing but Python,
pyst2 and Asterisk: apologise, take a message into the voicemail directory, say goodbye. Beside
the message it leaves the note the engine's voicemail intake reads (``<file>.wav.json``:
call id, caller, IVR path, ended), so the message becomes a ticket, with its caller, when the
engine is back. Arguments: the WAV file to record (Asterisk's path) and the longest message in
seconds. Installed into Asterisk's root filesystem by hotline/asterisk/agiscripts.py, with
pyst2 beside it.
"""

import json
import os
import sys
from datetime import UTC, datetime

sys.path.insert(0, "/usr/local/lib/hotline-agi")

from asterisk.agi import AGI, AGIException  # pyst2, found on the path above


def leave_note(target: str, call_id: str, caller: str) -> None:
    """Write the intake's sidecar atomically (a temporary file, then rename)."""
    note = {
        "call_id": call_id,
        "file": os.path.basename(target),
        "caller": caller,
        "ivr_path": "failsafe>voicemail",
        "left_at": datetime.now(UTC).isoformat(),
        "ended": True,
    }
    tmp = f"{target}.json.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(note, out, ensure_ascii=False)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, f"{target}.json")


def main() -> int:
    agi = AGI()
    target = agi.env.get("agi_arg_1", "")
    try:
        max_s = max(10, int(agi.env.get("agi_arg_2", "180")))
    except ValueError:
        max_s = 180
    if not target.endswith(".wav"):
        agi.verbose("hotline-failsafe: no .wav target given", 1)
        return 1
    caller = "".join(ch for ch in agi.env.get("agi_callerid", "") if ch in "0123456789+")
    try:
        agi.stream_file("hotline/failsafe")
        agi.record_file(target[: -len(".wav")], "wav", "#", max_s * 1000, 0, "beep", 4)
        agi.stream_file("hotline/goodbye")
    except AGIException:
        pass  # the caller hung up: what they said is kept all the same
    finally:
        if os.path.exists(target):
            leave_note(target, agi.env.get("agi_uniqueid", ""), caller)
    return 0


if __name__ == "__main__":
    sys.exit(main())
