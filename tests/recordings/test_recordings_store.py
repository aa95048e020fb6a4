"""Recordings on SQLite AND PostgreSQL with real files: retention with a configurable clock,
playback over real HTTP (aiohttp) with Range requests, access (403/404) and the playback log,
quality scores and the per-agent report, the migration up and down, the two commands.

PostgreSQL comes from HOTLINE_TEST_PG_URL (see test_ticket_store.py); unreachable: the tests FAIL.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import wave
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from hotline.app.cli import main
from hotline.app.migrate import alembic_config, current, head, upgrade
from hotline.recordings.access import Requester
from hotline.recordings.files import AudioRoots
from hotline.recordings.http import add_recording_routes
from hotline.recordings.service import AccessDenied, RecordingService
from hotline.recordings.store import Recording, RecordingStore
from tests.tickets.test_ticket_store import fresh_pg_database

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
DAYS = {"call": 30, "voicemail": 7, "threeway": 0}
AUDIO = bytes(range(256)) * 40  # 10,240 bytes, every offset distinguishable
MARKS = {"greeting": 1, "asked_contact_details": 1, "correct_category": 0.5, "polite_close": 0}


@pytest.fixture(scope="module")
def rec_pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="module")
def rec_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('recordings') / 'hotline.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    name = "rec_sqlite_url" if request.param == "sqlite" else "rec_pg_url"
    url: str = request.getfixturevalue(name)
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for table in ("quality_scores", "playbacks", "recordings"):
            conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()
    return url


@pytest.fixture
def roots(tmp_path: Path) -> AudioRoots:
    return AudioRoots(tmp_path / "recordings", tmp_path / "voicemail")


@pytest.fixture
def service(db_url: str, roots: AudioRoots) -> Iterator[RecordingService]:
    store = RecordingStore(db_url)
    yield RecordingService(store, roots, retention_days=DAYS, clock=lambda: NOW)
    store.dispose()


def put_call(
    service: RecordingService, call_id: str, agent: str, started: datetime, audio: bytes = AUDIO
) -> Recording:
    day = started.strftime("%Y/%m/%d")
    path = f"calls/{day}/{call_id}-{agent}.wav"
    file = service.roots.resolve(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(audio)
    rec = service.started("call", path, call_id, agent, started)
    service.finish_call(call_id, started + timedelta(minutes=3))
    return service.store.get(rec.id)


def put_voicemail(service: RecordingService, call_id: str, left: datetime) -> Recording:
    name = f"{left:%Y%m%d}-{call_id}.wav"
    service.roots.voicemail.mkdir(parents=True, exist_ok=True)
    (service.roots.voicemail / name).write_bytes(AUDIO[:1000])
    return service.voicemail_taken(call_id, name, "20261123000017", left)


# --- schema -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_creates_and_drops_the_recordings_tables(backend: str, tmp_path: Path) -> None:
    @contextmanager
    def database() -> Iterator[str]:
        if backend == "sqlite":
            yield f"sqlite:///{tmp_path / 'updown.db'}"
        else:
            with fresh_pg_database() as url:
                yield url

    ours = {"recordings", "playbacks", "quality_scores"}
    with database() as url:
        upgrade(url)
        engine = create_engine(url, poolclass=NullPool)
        assert current(url) == head() and ours <= set(inspect(engine).get_table_names())
        command.downgrade(alembic_config(url), "0008")
        assert not ours & set(inspect(engine).get_table_names())
        assert "call_steps" in inspect(engine).get_table_names()  # the revision before stays
        upgrade(url)
        assert ours <= set(inspect(engine).get_table_names())
        engine.dispose()


# --- metadata -----------------------------------------------------------------------------


def test_call_and_voicemail_rows_with_size_and_times(service: RecordingService) -> None:
    started = NOW - timedelta(hours=1)
    rec = put_call(service, "1700000000.1", "1001", started)
    assert (rec.kind, rec.call_id, rec.agent_id, rec.size_bytes) == (
        "call", "1700000000.1", "1001", len(AUDIO)
    )  # fmt: skip
    assert rec.started_at == started and rec.ended_at == started + timedelta(minutes=3)
    again = service.started("call", rec.path, rec.call_id, "1001", started)
    assert again.id == rec.id and service.store.count() == 1  # a replayed event: one row
    vm = put_voicemail(service, "1700000000.2", NOW)
    assert (vm.kind, vm.ticket_number, vm.size_bytes) == ("voicemail", "20261123000017", 1000)
    assert vm.path == "voicemail/20261123-1700000000.2.wav"
    with pytest.raises(ValueError, match="not inside the store"):
        service.started("call", "../../etc/passwd", "x", "1001", NOW)


# --- retention ----------------------------------------------------------------------------


def test_retention_removes_expired_audio_and_keeps_the_records(service: RecordingService) -> None:
    old_call = put_call(service, "1.1", "1001", NOW - timedelta(days=31))
    new_call = put_call(service, "1.2", "1001", NOW - timedelta(days=29))
    old_vm = put_voicemail(service, "1.3", NOW - timedelta(days=8))
    new_vm = put_voicemail(service, "1.4", NOW - timedelta(days=6))
    gone_call = put_call(service, "1.5", "1002", NOW - timedelta(days=40))
    service.roots.resolve(gone_call.path).unlink()  # someone removed it by hand

    result = service.purge(NOW)

    assert sorted(result.deleted) == sorted([old_call.id, old_vm.id])
    assert result.already_gone == [gone_call.id] and result.failed == []
    for rec in (old_call, old_vm, gone_call):
        assert not service.roots.resolve(rec.path).exists()
        row = service.store.get(rec.id)  # the record that it existed stays
        assert row.deleted_at == NOW and row.delete_reason and "retention" in row.delete_reason
        assert row.path == rec.path and row.size_bytes == rec.size_bytes
    assert "already gone" in (service.store.get(gone_call.id).delete_reason or "")
    for rec in (new_call, new_vm):
        assert service.roots.resolve(rec.path).read_bytes()
        assert service.store.get(rec.id).deleted_at is None
    assert service.purge(NOW).deleted == []  # nothing twice
    later = service.purge(NOW + timedelta(days=2))  # the clock moves on: the next ones go
    assert sorted(later.deleted) == sorted([new_call.id, new_vm.id])


def speech_like_wav(seconds: float = 2.0) -> bytes:
    """A real 8 kHz 16-bit mono WAV (a wobbling tone), as MixMonitor writes them."""
    frames = bytearray()
    for i in range(int(8000 * seconds)):
        value = int(8000 * math.sin(i * (0.05 + 0.02 * math.sin(i / 800))))
        frames += struct.pack("<h", value)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(frames))
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "magic"), [("flac", b"fLaC"), ("ogg", b"OggS")])
async def test_old_call_audio_is_compressed_and_still_plays(
    service: RecordingService, client: TestClient[web.Request, web.Application], fmt: str,
    magic: bytes,
) -> None:  # fmt: skip
    service.compress_after_days, service.compress_format = 10, fmt
    wav = speech_like_wav()
    old = put_call(service, "5.1", "1001", NOW - timedelta(days=12), wav)
    young = put_call(service, "5.2", "1001", NOW - timedelta(days=5), wav)
    broken = put_call(service, "5.3", "1002", NOW - timedelta(days=12), b"not audio at all")
    vm = put_voicemail(service, "5.4", NOW - timedelta(days=12) + timedelta(days=6))

    result = service.purge(NOW)

    assert result.compressed == [old.id] and result.failed == [broken.id], result
    row = service.store.get(old.id)
    assert row.path == old.path[: -len(".wav")] + f".{fmt}" and row.deleted_at is None
    data = service.roots.resolve(row.path).read_bytes()
    assert data[:4] == magic and row.size_bytes == len(data) < len(wav)
    assert result.bytes_saved == len(wav) - len(data)
    assert not service.roots.resolve(old.path).exists()  # the WAV went
    for kept in (young, broken, vm):  # too young, not audio (left as it was), voicemail
        assert service.store.get(kept.id).path == kept.path
        assert service.roots.resolve(kept.path).exists()
    assert not list(service.roots.recordings.rglob("*.part"))
    # It plays, with its own type and ranges.
    url = f"/api/v1/recordings/{old.id}/audio"
    resp = await client.get(url, headers={**who("lee", "supervisor"), "Range": "bytes=0-3"})
    assert resp.status == 206 and resp.content_type == f"audio/{fmt}"
    assert await resp.read() == magic
    # A WAV left behind by an engine stopped between the row's update and the removal is not
    # taken for a recording without metadata.
    service.roots.resolve(old.path).write_bytes(wav)
    assert service.adopt_orphans(idle_s=0) == []
    assert not service.roots.resolve(old.path).exists()
    assert service.purge(NOW).compressed == []  # nothing twice


def test_purge_command_with_a_given_clock(
    service: RecordingService, db_url: str, roots: AudioRoots, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    old = put_call(service, "2.1", "1001", NOW - timedelta(days=31))
    kept = put_call(service, "2.2", "1001", NOW - timedelta(days=1))
    config = tmp_path / "hotline.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n[recordings]\ndir = "{roots.recordings}"\n'
        f'voicemail_dir = "{roots.voicemail}"\n'
        "retention_days = { call = 30, voicemail = 7 }\n",
        encoding="utf-8",
    )
    assert main(["-c", str(config), "recordings", "purge", "--now", "2026-11-23T10:00"]) == 0
    assert "1 recordings removed" in capsys.readouterr().out
    assert service.store.get(old.id).deleted_at == NOW  # 10:00 Beijing time = 02:00 UTC
    assert service.store.get(kept.id).deleted_at is None
    assert service.roots.resolve(kept.path).exists()
    assert main(["-c", str(config), "recordings", "purge", "--now", "not-a-time"]) == 2


# --- playback over HTTP -------------------------------------------------------------------


async def as_header(request: web.Request) -> Requester | None:
    """The test's stand-in for the desktop's session: ``X-Test-User: name:role``."""
    raw = request.headers.get("X-Test-User")
    if not raw:
        return None
    user, role = raw.split(":")
    return Requester(user, role)


@pytest.fixture
async def client(
    service: RecordingService,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    add_recording_routes(app, service, as_header, prefix="/api/v1/recordings")
    async with TestClient(TestServer(app)) as c:
        yield c


def who(user: str, role: str) -> dict[str, str]:
    return {"X-Test-User": f"{user}:{role}"}


async def test_a_role_without_the_right_gets_403_and_is_not_logged(
    service: RecordingService, client: TestClient[web.Request, web.Application]
) -> None:
    rec = put_call(service, "3.1", "1001", NOW)
    vm = put_voicemail(service, "3.2", NOW)
    url = f"/api/v1/recordings/{rec.id}/audio"
    for headers in (who("u1", "unit"), who("1002", "agent"), who("x", "visitor")):
        resp = await client.get(url, headers=headers)
        assert resp.status == 403, headers
    assert (
        await client.get(f"/api/v1/recordings/{vm.id}/audio", headers=who("1001", "agent"))
    ).status == 403
    assert (await client.get(url)).status == 401
    assert service.store.playbacks(rec.id) == [] and service.store.playbacks(vm.id) == []
    assert (await client.get(url, headers=who("1001", "agent"))).status == 200  # their own


async def test_each_playback_is_logged_and_ranges_give_the_right_bytes(
    service: RecordingService, client: TestClient[web.Request, web.Application]
) -> None:
    rec = put_call(service, "4.1", "1001", NOW)
    url = f"/api/v1/recordings/{rec.id}/audio"
    whole = await client.get(url, headers=who("lee", "supervisor"))
    assert whole.status == 200 and await whole.read() == AUDIO
    assert whole.headers["Accept-Ranges"] == "bytes" and whole.content_type == "audio/wav"
    part = await client.get(url, headers={**who("qa1", "reviewer"), "Range": "bytes=1000-1999"})
    assert part.status == 206 and await part.read() == AUDIO[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(AUDIO)}"
    assert part.headers["Content-Length"] == "1000"
    tail = await client.get(url, headers={**who("root", "admin"), "Range": "bytes=-100"})
    assert tail.status == 206 and await tail.read() == AUDIO[-100:]
    open_end = await client.get(url, headers={**who("root", "admin"), "Range": "bytes=10200-"})
    assert await open_end.read() == AUDIO[10200:]
    bad = await client.get(url, headers={**who("lee", "supervisor"), "Range": "bytes=99999-"})
    assert bad.status == 416 and bad.headers["Content-Range"] == f"bytes */{len(AUDIO)}"

    log = service.store.playbacks(rec.id)
    assert [(p.user_name, p.role, p.byte_range) for p in log] == [
        ("lee", "supervisor", "all"),
        ("qa1", "reviewer", "bytes=1000-1999"),
        ("root", "admin", f"bytes={len(AUDIO) - 100}-{len(AUDIO) - 1}"),
        ("root", "admin", f"bytes=10200-{len(AUDIO) - 1}"),
    ]  # the 416 sent nothing and is not a playback
    assert all(p.played_at == NOW for p in log)


async def test_unknown_or_removed_recordings_are_404(
    service: RecordingService, client: TestClient[web.Request, web.Application]
) -> None:
    rec = put_call(service, "5.1", "1001", NOW - timedelta(days=31))
    sup = who("lee", "supervisor")
    assert (await client.get("/api/v1/recordings/999999/audio", headers=sup)).status == 404
    assert (await client.get("/api/v1/recordings/abc/audio", headers=sup)).status == 404
    meta = await client.get(f"/api/v1/recordings/{rec.id}", headers=sup)
    assert meta.status == 200 and (await meta.json())["agent_id"] == "1001"
    service.purge(NOW)
    gone = await client.get(f"/api/v1/recordings/{rec.id}/audio", headers=sup)
    assert gone.status == 404 and "retention" in await gone.text()
    assert service.store.playbacks(rec.id) == []


# --- quality review -----------------------------------------------------------------------


async def test_scores_are_stored_and_reported_per_agent(
    service: RecordingService, client: TestClient[web.Request, web.Application],
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    a = put_call(service, "6.1", "1001", NOW)
    b = put_call(service, "6.2", "1001", NOW)
    c = put_call(service, "6.3", "1002", NOW)
    sup = who("lee", "supervisor")
    resp = await client.post(f"/api/v1/recordings/{a.id}/score", json={"marks": MARKS}, headers=sup)
    assert resp.status == 200 and (await resp.json())["score"] == 62.5
    full = dict.fromkeys(MARKS, 1)
    assert service.score(Requester("qa1", "reviewer"), b.id, full) == 100.0
    assert service.score(Requester("qa1", "reviewer"), c.id, {**full, "greeting": 0}) == 75.0
    # Scoring again replaces the same reviewer's earlier score.
    assert service.score(Requester("lee", "supervisor"), a.id, MARKS, "second look") == 62.5

    bad = await client.post(
        f"/api/v1/recordings/{a.id}/score", json={"marks": {"greeting": 1}}, headers=sup
    )
    assert bad.status == 400 and "no mark" in await bad.text()
    denied = await client.post(
        f"/api/v1/recordings/{a.id}/score", json={"marks": full}, headers=who("1001", "agent")
    )
    assert denied.status == 403
    with pytest.raises(AccessDenied):
        service.score(Requester("u", "unit"), a.id, full)

    report = service.quality_report(NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert [r.to_json() for r in report] == [
        {"agent_id": "1001", "reviews": 2, "mean_score": 81.2},
        {"agent_id": "1002", "reviews": 1, "mean_score": 75.0},
    ]
    http = await client.get(
        "/api/v1/recordings/quality/report",
        params={"from": "2026-11-23T00:00+08:00", "to": "2026-11-24T00:00+08:00"},
        headers=sup,
    )
    assert (await http.json())["agents"][0]["reviews"] == 2
    no_zone = await client.get(
        "/api/v1/recordings/quality/report",
        params={"from": "2026-11-23T00:00", "to": "2026-11-24T00:00"},
        headers=sup,
    )
    assert no_zone.status == 400

    config = tmp_path / "hotline.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    args = ["-c", str(config), "quality", "report", "--from", "2026-11-23", "--to", "2026-11-23"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["agents"] == [r.to_json() for r in report]
    assert main(args) == 0
    assert "agent 1001" in capsys.readouterr().out
    assert main([*args[:-2], "--to", "2026-11-22"]) == 2  # to before from


# --- listing, removed rows, lost events ---------------------------------------------------


async def test_listing_shows_only_what_the_role_may_hear_and_removed_rows_stay_visible(
    service: RecordingService, client: TestClient[web.Request, web.Application]
) -> None:
    mine = put_call(service, "7.1", "1001", NOW - timedelta(days=31))
    theirs = put_call(service, "7.2", "1002", NOW - timedelta(hours=2))
    vm = put_voicemail(service, "7.3", NOW - timedelta(hours=1))
    service.purge(NOW)  # mine is past its 30 days
    period = {"from": "2026-10-01T00:00+08:00", "to": "2026-11-24T00:00+08:00"}

    async def ids(headers: dict[str, str], **extra: str) -> list[int]:
        resp = await client.get("/api/v1/recordings", params={**period, **extra}, headers=headers)
        assert resp.status == 200, await resp.text()
        return [r["id"] for r in (await resp.json())["recordings"]]

    assert await ids(who("lee", "supervisor")) == [vm.id, theirs.id, mine.id]  # newest first
    assert await ids(who("1001", "agent")) == [mine.id]
    assert await ids(who("u1", "unit")) == []
    assert await ids(who("lee", "supervisor"), kind="call", agent="1002") == [theirs.id]
    by_call = await client.get(
        "/api/v1/recordings", params={"call": "7.2"}, headers=who("qa1", "reviewer")
    )
    assert [r["id"] for r in (await by_call.json())["recordings"]] == [theirs.id]
    assert (await client.get("/api/v1/recordings", headers=who("lee", "supervisor"))).status == 400
    # The removed recording's row still says it existed, and when and why it went.
    meta = await client.get(f"/api/v1/recordings/{mine.id}", headers=who("1001", "agent"))
    body = await meta.json()
    assert body["deleted_at"] == NOW.isoformat() and "retention" in body["delete_reason"]
    denied = await client.get(f"/api/v1/recordings/{mine.id}", headers=who("1002", "agent"))
    assert denied.status == 403
    head = await client.head(f"/api/v1/recordings/{theirs.id}/audio", headers=who("a", "admin"))
    assert head.status == 405 and service.store.playbacks(theirs.id) == []


def test_a_recording_whose_event_was_lost_is_adopted(service: RecordingService) -> None:
    path = "calls/2026/11/22/1700000000.9-1002.wav"
    wav = service.roots.resolve(path)
    wav.parent.mkdir(parents=True)
    wav.write_bytes(AUDIO)
    stamp = (NOW - timedelta(hours=3)).timestamp()
    os.utime(wav, (stamp, stamp))
    fresh = service.roots.resolve("calls/2026/11/23/1700000001.1-1001.wav")
    fresh.parent.mkdir(parents=True)
    fresh.write_bytes(AUDIO)
    os.utime(fresh, (NOW.timestamp(), NOW.timestamp()))  # still being recorded
    (wav.parent / "not-ours.txt").write_text("x")
    dept = wav.with_name("1700000000.9-dept-hl3-abc.wav")
    dept.write_bytes(AUDIO[:500])
    os.utime(dept, (stamp, stamp))

    adopted = service.adopt_orphans()
    assert [(r.kind, r.path, r.call_id, r.agent_id, r.size_bytes) for r in adopted] == [
        ("call", path, "1700000000.9", "1002", len(AUDIO)),
        ("threeway", dept.relative_to(service.roots.recordings).as_posix(), "1700000000.9",
         None, 500),
    ]  # fmt: skip
    assert adopted[0].started_at == NOW - timedelta(hours=3)
    assert service.adopt_orphans() == []  # once


def test_commands_refuse_a_store_that_is_not_migrated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "none.db"}"\n', encoding="utf-8")
    assert main(["-c", str(config), "recordings", "purge"]) == 3
    assert "hotline db upgrade" in capsys.readouterr().err
    assert main(["-c", str(config), "quality", "report", "--from", "2026-11-01", "--to",
                 "2026-11-30"]) == 3  # fmt: skip
    assert not (tmp_path / "none.db").exists()  # nothing created on the way
