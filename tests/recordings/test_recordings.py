"""Recordings, the pure parts: retention, who may hear what, Range requests, the 质检 checklist,
stored paths, and the dialplan's HotlineRecording event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.asterisk.ami.events import MalformedEvent, RecordingStarted, parse_event
from hotline.quality.rules import DEFAULT_CHECKLIST, ScoreError, report, score
from hotline.recordings.access import Requester, may_hear, may_score
from hotline.recordings.files import AudioRoots, BadRecordingPath
from hotline.recordings.ranges import ByteRange, Unsatisfiable, select
from hotline.recordings.retention import Expired, Held, expired

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
DAYS = {"call": 30, "voicemail": 7, "threeway": 0}


# --- retention ----------------------------------------------------------------------------


def test_retention_chooses_only_expired_undeleted_recordings_per_kind() -> None:
    held = [
        Held(1, "call", NOW - timedelta(days=31)),  # expired
        Held(2, "call", NOW - timedelta(days=29)),  # kept
        Held(3, "voicemail", NOW - timedelta(days=8)),  # expired
        Held(4, "voicemail", NOW - timedelta(days=6)),  # kept
        Held(5, "threeway", NOW - timedelta(days=9999)),  # 0 days: kept for ever
        Held(6, "call", NOW - timedelta(days=90), deleted_at=NOW - timedelta(days=1)),
    ]
    assert expired(held, DAYS, NOW) == [
        Expired(1, "retention: call kept 30 days"),
        Expired(3, "retention: voicemail kept 7 days"),
    ]


def test_retention_boundary_and_unknown_kind_and_naive_clock() -> None:
    exactly = Held(1, "call", NOW - timedelta(days=30))
    assert expired([exactly], DAYS, NOW) == []  # not before the cutoff: kept
    assert expired([Held(2, "other", NOW - timedelta(days=999))], DAYS, NOW) == []
    with pytest.raises(ValueError, match="time zone"):
        expired([], DAYS, NOW.replace(tzinfo=None))


# --- access -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "kind", "owner", "allowed"),
    [
        ("agent", "call", "1001", True),  # their own call
        ("agent", "call", "1002", False),  # a colleague's
        ("agent", "call", None, False),
        ("agent", "voicemail", None, False),
        ("agent", "threeway", "1001", True),
        ("supervisor", "call", "1002", True),
        ("supervisor", "voicemail", None, True),
        ("reviewer", "call", "1002", True),
        ("reviewer", "voicemail", None, True),
        ("unit", "call", "1001", False),
        ("unit", "voicemail", None, False),
        ("admin", "call", "1002", True),
        ("admin", "voicemail", None, True),
        ("visitor", "call", "1001", False),
        ("admin", "strange-kind", None, False),
    ],
)
def test_who_may_hear_what(role: str, kind: str, owner: str | None, allowed: bool) -> None:
    assert may_hear(Requester("1001", role), kind, owner) is allowed


def test_agent_identity_may_differ_from_login_and_scorers() -> None:
    assert may_hear(Requester("wang", "agent", agent_id="1001"), "call", "1001")
    assert not may_hear(Requester("1001", "agent", agent_id="1002"), "call", "1001")
    assert may_score(Requester("s", "supervisor")) and may_score(Requester("r", "reviewer"))
    assert not may_score(Requester("a", "agent")) and not may_score(Requester("u", "unit"))


# --- ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("", 100, None),
        ("bytes=0-9", 100, ByteRange(0, 9, 100)),
        ("bytes=90-", 100, ByteRange(90, 99, 100)),
        ("bytes=90-500", 100, ByteRange(90, 99, 100)),  # clipped to the end
        ("bytes=-10", 100, ByteRange(90, 99, 100)),  # the last ten
        ("bytes=-500", 100, ByteRange(0, 99, 100)),
        ("BYTES = 5 - 5", 100, ByteRange(5, 5, 100)),
        ("bytes=0-1,5-6", 100, None),  # several ranges: the whole file
        ("items=0-1", 100, None),  # another unit: ignored
    ],
)
def test_range_selection(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert select(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=100-", 100), ("bytes=200-300", 100), ("bytes=9-3", 100), ("bytes=-0", 100),
     ("bytes=-", 100), ("bytes=abc", 100), ("bytes=0-", 0)],
)  # fmt: skip
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        select(header, size)


def test_content_range_and_log_text() -> None:
    part = ByteRange(10, 19, 100)
    assert part.content_range() == "bytes 10-19/100" and part.length == 10
    assert part.partial and part.logged() == "bytes=10-19"
    assert not ByteRange(0, 99, 100).partial and ByteRange(0, 99, 100).logged() == "all"


# --- quality review -----------------------------------------------------------------------


def test_score_is_the_weighted_mean_in_percent() -> None:
    full = dict.fromkeys(DEFAULT_CHECKLIST, 1.0)
    assert score(DEFAULT_CHECKLIST, full) == 100.0
    assert score(DEFAULT_CHECKLIST, {**full, "polite_close": 0}) == 75.0
    weighted = {"greeting": 1.0, "correct_category": 3.0}
    assert score(weighted, {"greeting": 1, "correct_category": 0.5}) == 62.5
    assert score(weighted, {"greeting": True, "correct_category": False}) == 25.0


@pytest.mark.parametrize(
    ("marks", "message"),
    [
        ({"greeting": 1}, "no mark"),
        ({**dict.fromkeys(DEFAULT_CHECKLIST, 1), "smile": 1}, "smile: not an item"),
        ({**dict.fromkeys(DEFAULT_CHECKLIST, 1), "greeting": 2}, "greeting: mark must be"),
        ({**dict.fromkeys(DEFAULT_CHECKLIST, 1), "greeting": "yes"}, "greeting: mark must be"),
    ],
)
def test_incomplete_or_bad_marks_are_refused_naming_the_item(
    marks: dict[str, float], message: str
) -> None:
    with pytest.raises(ScoreError, match=message):
        score(DEFAULT_CHECKLIST, marks)


def test_bad_checklists_are_refused() -> None:
    with pytest.raises(ScoreError, match="empty"):
        score({}, {})
    with pytest.raises(ScoreError, match="weight"):
        score({"greeting": 0.0}, {"greeting": 1})


def test_report_per_agent() -> None:
    lines = report([("1002", 50.0), ("1001", 100.0), ("1001", 75.0)])
    assert [line.to_json() for line in lines] == [
        {"agent_id": "1001", "reviews": 2, "mean_score": 87.5},
        {"agent_id": "1002", "reviews": 1, "mean_score": 50.0},
    ]
    assert report([]) == []


# --- stored paths -------------------------------------------------------------------------


def test_stored_paths_resolve_inside_their_roots_only(tmp_path: Path) -> None:
    roots = AudioRoots(tmp_path / "rec", tmp_path / "vm")
    assert roots.resolve("calls/2026/11/23/1.2-1001.wav") == (
        tmp_path / "rec" / "calls" / "2026" / "11" / "23" / "1.2-1001.wav"
    )
    assert roots.resolve("voicemail/20261123-1.2.wav") == tmp_path / "vm" / "20261123-1.2.wav"
    for bad in ("/etc/passwd", "calls/../../etc/passwd", "other/x.wav", "calls", ""):
        with pytest.raises(BadRecordingPath):
            roots.resolve(bad)


# --- the dialplan's event -----------------------------------------------------------------


def test_hotline_recording_event_parses() -> None:
    headers = {
        "Event": "UserEvent",
        "UserEvent": "HotlineRecording",
        "CallId": ["1700000000.5", "1700000000.5"],  # snapshot header first, ours last
        "Agent": "1001",
        "Kind": "call",
        "Path": "calls/2026/11/23/1700000000.5-1001.wav",
        "Timestamp": "1700000001.25",
    }
    event = parse_event(headers, 0.0)
    assert event == RecordingStarted(
        at=1700000001.25,
        call_id="1700000000.5",
        agent_id="1001",
        kind="call",
        path="calls/2026/11/23/1700000000.5-1001.wav",
    )
    with pytest.raises(MalformedEvent, match="Path"):
        parse_event({k: v for k, v in headers.items() if k != "Path"}, 0.0)


# --- the weekly sampling plan (hotline/quality/rules.py rule 5)
# -------------------------------------


def test_sampling_plan_picks_the_quota_per_agent_the_same_on_every_look() -> None:
    from hotline.quality.rules import sample_plan

    week = [(i, "a") for i in range(1, 21)] + [(100, "b")]
    first = sample_plan(week, set(), 3, "2026-11-23")
    assert [(p.agent_id, p.quota, p.done, len(p.pending)) for p in first] == [
        ("a", 3, 0, 3),
        ("b", 1, 0, 1),  # fewer calls than the quota: all of them
    ]
    assert sample_plan(list(reversed(week)), set(), 3, "2026-11-23") == first  # stable
    other_week = sample_plan(week, set(), 3, "2026-11-30")
    assert other_week[0].pending != first[0].pending  # another week, another draw
    assert set(first[0].pending) <= set(range(1, 21))


def test_reviews_count_toward_the_quota_whatever_was_picked() -> None:
    from hotline.quality.rules import sample_plan

    week = [(i, "a") for i in range(1, 11)]
    picks = sample_plan(week, set(), 3, "w")[0].pending
    not_picked = next(i for i in range(1, 11) if i not in picks)
    after = sample_plan(week, {picks[0], not_picked}, 3, "w")[0]
    assert (after.done, after.pending) == (2, picks[1:2])
    done = sample_plan(week, set(range(1, 6)), 3, "w")[0]  # more reviews than the quota
    assert (done.done, done.pending) == (3, ())
    assert sample_plan(week, set(), 0, "w")[0].pending == ()


def test_which_recordings_are_compressed() -> None:
    from datetime import UTC, datetime, timedelta

    from hotline.recordings.retention import Held, to_compress

    now = datetime(2026, 11, 23, tzinfo=UTC)
    old = now - timedelta(days=31)
    held = [
        Held(1, "call", old, path="calls/a.wav"),
        Held(2, "threeway", old, path="calls/b.wav"),
        Held(3, "voicemail", old, path="voicemail/c.wav"),  # tickets name the WAV: kept
        Held(4, "call", old, path="calls/d.flac"),  # done already
        Held(5, "call", now - timedelta(days=29), path="calls/e.wav"),  # too young
        Held(6, "call", old, deleted_at=now, path="calls/f.wav"),  # removed by retention
    ]
    assert [h.id for h in to_compress(held, 30, now)] == [1, 2]
    assert to_compress(held, 0, now) == []  # 0: never
    with pytest.raises(ValueError, match="time zone"):
        to_compress(held, 30, datetime(2026, 11, 23))
