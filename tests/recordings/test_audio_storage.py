"""Audio never lives in the cache (issue 13, item 1), through the real Asterisk 22 and the real
engine's HTTP playback.

A second debootstrap would take minutes, so a "rebuilt" root filesystem is a hard-linked copy
of the built one under another recipe's name (another suite: another hash). The session's
Asterisk is stopped meanwhile (the copies use its ports) and started again afterwards.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import struct
import subprocess
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hotline.app.migrate import upgrade
from hotline.asterisk.instance import ManagedAsterisk
from hotline.asterisk.rootfs import _remove_stale, mounts_under, remove_tree, rootfs_path
from hotline.base.settings import load_config
from hotline.recordings.files import audio_roots
from hotline.recordings.store import RecordingStore
from tests.calls.test_call_path import arrived_call_id
from tests.conftest import (
    CACHE_DIR,
    INSTANCE,
    RUN_ID,
    EngineProcess,
    HotlineSetup,
    _flush_redis_prefix,
    config_toml,
)
from tests.recordings.test_call_recording import wait_finished
from tests.support.calls import AmiTestClient, mqtt_collector
from tests.support.desk import add_user, desk_client

pytestmark = pytest.mark.asterisk

CLONES = CACHE_DIR / "test-clones"
MARKER = ".hotline-recipe"  # what the build writes last
AUDIO_FOLDERS = ("hotline-recordings", "hotline-voicemail", "hotline-utterances")


def clone_root(src: Path, dst: Path) -> None:
    """A hard-linked copy of a built root filesystem: all but /proc (maybe mounted) and /srv
    (the instances' own files)."""
    dst.mkdir(parents=True)
    for entry in src.iterdir():
        if entry.name in ("proc", "srv"):
            (dst / entry.name).mkdir()
        else:
            subprocess.run(["cp", "-al", str(entry), str(dst / entry.name)], check=True)


def setup_for(state: Path, cache: Path, suite: str, session: HotlineSetup) -> HotlineSetup:
    state.mkdir(parents=True, exist_ok=True)
    # The session's Redis and Mosquitto know the session's generated credentials only.
    if not (state / "secrets").exists():
        shutil.copytree(session.state_dir / "secrets", state / "secrets")
    text = config_toml(state, f"sqlite:///{state / 'hotline.db'}")
    text = text.replace(f'cache_dir = "{CACHE_DIR}"', f'cache_dir = "{cache}"')
    text = text.replace("[asterisk]\n", f'[asterisk]\nsuite = "{suite}"\n', 1)
    path = state / f"hotline-{suite}.toml"
    path.write_text(text, encoding="utf-8")
    return HotlineSetup(cfg=load_config(path, environ={}), path=path, state_dir=state)


@pytest.fixture
def built_root(asterisk: Any) -> Iterator[Path]:
    """The session's root filesystem, its Asterisk stopped for the test (the ports are ours)."""
    root: Path = asterisk.root
    asterisk.stop()
    try:
        yield root
    finally:
        asterisk.start()


@pytest.fixture
def clones() -> Iterator[Path]:
    cache = CLONES / f"{RUN_ID}-{datetime.now(UTC).strftime('%H%M%S%f')}"
    cache.mkdir(parents=True)
    try:
        yield cache
    finally:
        remove_tree(cache)  # unmounts first: never deletes through a bind mount


def reboot(root: Path) -> None:
    """What a reboot leaves mounted inside a stopped instance's root: nothing."""
    for point in mounts_under(root):
        subprocess.run(["umount", "-l", str(point)], check=True)


async def record_a_call(engine: EngineProcess) -> int:
    """A real answered call (agent 1001's test phone); the id of its finished recording."""
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            engine.agent("1001", "login")
            engine.agent("1001", "ready")
            caller = "13900139001"
            await ami.call_12345(caller, dtmf="1", variables={"TEST_PLAY": "hotline/menu"})
            call_id = await arrived_call_id(mqtt, caller)
            _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued")
            await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
            await asyncio.sleep(1.5)  # they talk
            await ami.hangup(queued["channel"])
            await mqtt.wait_for(f"/calls/{call_id}/ended")
    finally:
        ami.close()
    return (await wait_finished(engine, call_id)).id


async def play(engine: EngineProcess, recording_id: int) -> tuple[int, bytes]:
    """The recording through the engine's HTTP playback, as a supervisor hears it."""
    add_user(engine, "super1", "supervisor")
    desk = desk_client(engine)
    try:
        login = await desk.login("super1")
        assert login.status == 303, await login.text()
        async with desk.http.get(f"{engine.base}/desk/recordings/{recording_id}/audio") as resp:
            return resp.status, await resp.read()
    finally:
        await desk.close()


def start_both(setup: HotlineSetup, name: str) -> tuple[ManagedAsterisk, EngineProcess]:
    instance = ManagedAsterisk(setup.cfg)
    instance.start()
    # A clean ACD: the session's Redis may hold an earlier test's snapshot with agent 1001
    # logged in (a full run's log-in here answered 409).
    _flush_redis_prefix(setup.cfg)
    engine = EngineProcess(setup, name)
    try:
        engine.start()
    except BaseException:
        instance.stop()
        raise
    return instance, engine


def stop_both(instance: ManagedAsterisk, engine: EngineProcess) -> None:
    engine.stop()
    instance.stop()


async def test_recordings_survive_a_rebuild_and_the_clean_up_of_the_old_root(
    built_root: Path, clones: Path, tmp_path: Path, hotline_setup: HotlineSetup
) -> None:
    state = tmp_path / "state"
    # the suite the old root was built for, then the operator changed it: a rebuild
    before = setup_for(state, clones, "trixie", hotline_setup)
    after = setup_for(state, clones, "testing", hotline_setup)
    old_root, new_root = rootfs_path(before.cfg), rootfs_path(after.cfg)
    assert old_root != new_root
    clone_root(built_root, old_root)

    instance, engine = start_both(before, "rebuild-before")
    try:
        recording_id = await record_a_call(engine)
        status, heard = await play(engine, recording_id)
        assert status == 200 and heard[:4] == b"RIFF", (status, heard[:64])
        # While Asterisk runs, its recordings folder is the state directory's.
        spool = (old_root / "srv/hotline" / INSTANCE / "spool").resolve()
        assert {spool / name for name in AUDIO_FOLDERS} <= set(mounts_under(spool))
    finally:
        stop_both(instance, engine)
    assert not any(p for p in mounts_under(old_root) if p.name.startswith("hotline-"))
    reboot(old_root)

    clone_root(built_root, new_root)  # stands in for debootstrap of the new suite
    _remove_stale(clones, keep=new_root)  # what ensure_rootfs runs after a build
    assert not old_root.exists(), "a clean stale root (no audio in it) is removed"

    instance, engine = start_both(after, "rebuild-after")
    try:
        status, again = await play(engine, recording_id)
    finally:
        stop_both(instance, engine)
    assert status == 200, again[:200]
    assert again == heard
    store = RecordingStore(after.cfg.database_url)
    try:
        wav = audio_roots(after.cfg).resolve(store.get(recording_id).path)
    finally:
        store.dispose()
    assert wav.is_relative_to(state) and wav.stat().st_mode & 0o077 == 0


def _tone(path: Path, seconds: float = 1.0, freq: float = 440.0) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / 8000)))
        for i in range(int(8000 * seconds))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(frames)
    return path.read_bytes()


async def test_an_upgrade_moves_old_layout_audio_into_the_state_directory(
    built_root: Path, clones: Path, tmp_path: Path, hotline_setup: HotlineSetup
) -> None:
    """Audio an older version left in the root filesystems (the current one and a stale one)
    is moved at start; the rows still resolve, playback works, the stale root can go."""
    state = tmp_path / "state"
    setup = setup_for(state, clones, "testing", hotline_setup)
    stale = rootfs_path(setup_for(state, clones, "trixie", hotline_setup).cfg)
    root = rootfs_path(setup.cfg)
    clone_root(built_root, root)
    clone_root(built_root, stale)
    upgrade(setup.cfg.database_url)
    store = RecordingStore(setup.cfg.database_url)
    audio: dict[int, bytes] = {}
    at = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    try:
        for where, rel, kind, freq in (
            (root, "hotline-recordings/calls/2026/11/20/1763604000.11-1001.wav", "call", 440.0),
            (stale, "hotline-recordings/calls/2026/11/19/1763500000.7-1002.wav", "call", 550.0),
            (root, "hotline-voicemail/20261120-1763604100.12.wav", "voicemail", 660.0),
        ):
            spool = where / "srv/hotline" / INSTANCE / "spool"
            data = _tone(spool / rel, freq=freq)
            stored = rel.split("/", 1)[1] if kind == "call" else "voicemail/" + Path(rel).name
            call_id = Path(rel).stem.removeprefix("20261120-").rsplit("-", 1)[0]
            row = store.add(kind, stored, call_id, at, ended_at=at, size_bytes=len(data))
            audio[row.id] = data
        sidecar = root / "srv/hotline" / INSTANCE / "spool/hotline-voicemail"
        (sidecar / "20261120-1763604100.12.wav.json").write_text(
            json.dumps({"call_id": "1763604100.12", "file": "20261120-1763604100.12.wav",
                        "status": "done", "ticket": "20261120000001", "ended": True}),
            encoding="utf-8",
        )  # fmt: skip
        rows_before = {rid: store.get(rid) for rid in audio}
    finally:
        store.dispose()

    reboot(stale)
    instance, engine = start_both(setup, "upgrade")
    try:
        heard = {rid: await play(engine, rid) for rid in audio}
    finally:
        stop_both(instance, engine)
    for rid, data in audio.items():
        assert heard[rid] == (200, data), rid
    # Moved, not copied: no audio is left in any root filesystem; the rows did not change.
    left = [p for p in (root / "srv/hotline").rglob("*") if p.is_file() and "spool" in p.parts]
    assert left == [], left
    assert not stale.exists(), "the stale root, emptied of audio, is removed"
    store = RecordingStore(setup.cfg.database_url)
    try:
        assert {rid: store.get(rid) for rid in audio} == rows_before
    finally:
        store.dispose()
    roots = audio_roots(setup.cfg)
    assert (roots.voicemail / "20261120-1763604100.12.wav.json").is_file()
    for rec in rows_before.values():
        assert rec is not None and roots.resolve(rec.path).is_relative_to(state)

    # Idempotent: a second start moves nothing and loses nothing.
    instance = ManagedAsterisk(setup.cfg)
    instance.start()
    instance.stop()
    for rec in rows_before.values():
        assert rec is not None and roots.resolve(rec.path).read_bytes() == audio[rec.id]


def test_the_clean_up_keeps_a_root_with_audio_a_mount_or_no_build_marker(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    keep = cache / "asterisk-rootfs-current"
    keep.mkdir(parents=True)

    def fake_root(name: str, marker: bool = True) -> Path:
        root = cache / f"asterisk-rootfs-{name}"
        (root / "srv/hotline/main/spool/hotline-recordings").mkdir(parents=True)
        (root / "usr/sbin").mkdir(parents=True)
        if marker:
            (root / MARKER).write_text("suite=testing\n", encoding="utf-8")
        return root

    clean = fake_root("clean")
    with_audio = fake_root("audio")
    _tone(with_audio / "srv/hotline/main/spool/hotline-recordings/calls/2026/01/02/x-1.wav")
    with_debian_spool = fake_root("debian-spool")
    (with_debian_spool / "var/spool/asterisk/voicemail").mkdir(parents=True)
    _tone(with_debian_spool / "var/spool/asterisk/voicemail/msg0000.wav")
    unmarked = fake_root("unmarked", marker=False)
    mounted = fake_root("mounted")
    outside = tmp_path / "state-audio"
    outside.mkdir()
    _tone(outside / "precious.wav")
    target = mounted / "srv/hotline/main/spool/hotline-recordings"
    subprocess.run(["mount", "--bind", str(outside), str(target)], check=True)
    try:
        _remove_stale(cache, keep=keep)
        assert not clean.exists()
        for kept in (with_audio, with_debian_spool, unmarked, mounted, keep):
            assert kept.exists(), kept
        assert (outside / "precious.wav").exists()
    finally:
        subprocess.run(["umount", str(target)], check=True)
    shutil.rmtree(cache)
