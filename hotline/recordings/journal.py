"""The recordings' durable to-do list: an event (a recording started, a recorded call ended) is
on disk before it is acted on, and leaves the disk only once its row is in the store.

The probe at 50 concurrent calls lost two thirds of the recording rows: they waited in an
in-memory queue behind a serial worker, and went when the engine stopped. Here each event is a
small JSON file, written like the call-record spool (``hotline/base/db.py``): a temp file,
fsync, rename, fsync the directory, so after a crash a file holds a whole event or nothing. An
engine started again reads the directory and finishes what the last one left.

The journal keeps an in-memory copy of what is on disk (the directory is read once, at start),
so a pass over the backlog costs no directory listing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from hotline.base.db import spool_name
from hotline.base.durable import fsync_dir, keep_aside, write_durably

log = logging.getLogger(__name__)

Kind = Literal["started", "ended"]
_KINDS: tuple[Kind, ...] = ("started", "ended")


@dataclass(frozen=True)
class Started:
    """The dialplan's HotlineRecording: a recording began (its row is written now)."""

    kind: str
    path: str
    call_id: str
    agent_id: str | None
    at: datetime

    @property
    def key(self) -> str:
        return "started-" + spool_name(self.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "call_id": self.call_id,
            "agent_id": self.agent_id,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Started:
        agent = data.get("agent_id")
        return cls(
            kind=str(data["kind"]),
            path=str(data["path"]),
            call_id=str(data["call_id"]),
            agent_id=None if agent is None else str(agent),
            at=_aware(data["at"]),
        )


@dataclass(frozen=True)
class Ended:
    """A recorded (answered) call ended: its recordings get their end and size once the files
    stop growing."""

    call_id: str
    ended_at: datetime | None

    @property
    def key(self) -> str:
        return "ended-" + spool_name(self.call_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ended:
        at = data.get("ended_at")
        return cls(call_id=str(data["call_id"]), ended_at=None if at is None else _aware(at))


Entry = Started | Ended


def _aware(value: Any) -> datetime:
    at = datetime.fromisoformat(str(value))
    if at.tzinfo is None:
        raise ValueError(f"time {value!r} has no zone")
    return at


class RecordingJournal:
    """Blocking file operations: the keeper calls them from a worker thread."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.bad_dir = self.directory / "bad"
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def load(self) -> list[Entry]:
        """What an earlier engine left (read once; later calls return the current entries)."""
        if not self._loaded:
            self._loaded = True
            if self.directory.is_dir():
                for path in sorted(self.directory.iterdir()):
                    if path.suffix != ".json" or path.name.startswith(".") or not path.is_file():
                        continue  # hidden names are temp files a crash left: never an event
                    self._read(path)
        return self.entries()

    def _read(self, path: Path) -> None:
        kind = path.name.partition("-")[0]
        try:
            if kind not in _KINDS:
                raise ValueError(f"unknown kind {kind!r}")
            data = json.loads(path.read_bytes())
            entry: Entry = Started.from_json(data) if kind == "started" else Ended.from_json(data)
        except FileNotFoundError:
            return
        except OSError as exc:  # unreadable: left where it is for a person to see
            log.error("recording journal entry %s cannot be read: %s", path, exc)
            return
        except (ValueError, KeyError, TypeError) as exc:
            self._move_to_bad(path, f"not a recording event: {exc!r}")
            return
        self._entries[path.name] = entry

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, *entries: Entry) -> None:
        """On disk (fsynced) before this returns; one directory fsync for the whole batch. The
        same event twice is one file."""
        if not entries:
            return
        if not self.directory.is_dir():
            self.directory.mkdir(parents=True, exist_ok=True)
            fsync_dir(self.directory.parent)
        for entry in entries:
            name = entry.key + ".json"
            data = json.dumps(entry.to_json(), ensure_ascii=False).encode()
            write_durably(self.directory / name, data, sync_dir=False)
        fsync_dir(self.directory)
        for entry in entries:
            self._entries[entry.key + ".json"] = entry

    def done(self, entry: Entry) -> None:
        """Its row is committed: the event leaves the disk (a crash before this replays it,
        which the idempotent store takes as a no-op)."""
        name = entry.key + ".json"
        self._entries.pop(name, None)
        (self.directory / name).unlink(missing_ok=True)

    def reject(self, entry: Entry, reason: str) -> None:
        """The store can never take it (e.g. a path outside the store): kept in bad/."""
        name = entry.key + ".json"
        self._entries.pop(name, None)
        path = self.directory / name
        if path.exists():
            self._move_to_bad(path, reason)

    def _move_to_bad(self, path: Path, reason: str) -> None:
        target = keep_aside(path, self.bad_dir)
        log.error("recording journal entry %s moved to %s: %s", path.name, target, reason)
