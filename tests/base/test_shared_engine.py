"""One SQLAlchemy engine per process and URL: the stores lease it, the last release closes it."""

from __future__ import annotations

import gc
from pathlib import Path

from sqlalchemy import text

from hotline.app.migrate import upgrade
from hotline.base.db import lease_engine, make_engine, shared_engine_count
from hotline.callcontrol.steps import StepStore
from hotline.calls.store import CallRecordStore
from hotline.desk.users import UserStore
from hotline.kb.service import KbStore
from hotline.recordings.store import RecordingStore
from hotline.tickets.store import TicketStore


def test_the_stores_of_one_url_share_one_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    before = shared_engine_count()
    stores = [
        TicketStore(url),
        CallRecordStore(url, tmp_path / "spool"),
        RecordingStore(url),
        UserStore(url),
        StepStore(url),
        KbStore(url),
    ]
    engines = {id(s._engine if isinstance(s, CallRecordStore) else s.engine) for s in stores}
    assert len(engines) == 1
    assert shared_engine_count() == before + 1
    other = TicketStore(f"sqlite:///{tmp_path / 'other.db'}")
    assert shared_engine_count() == before + 2
    other.dispose()
    for store in stores:
        store.dispose()
    assert shared_engine_count() == before


def test_one_store_disposing_leaves_the_others_working(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    users, kb = UserStore(url), KbStore(url)
    users.add("alice", "agent", "a long enough password", agent_id="1001")
    users.dispose()
    users.dispose()  # twice: still one release, the engine stays for kb
    assert kb.all() == []
    with kb.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 1
    kb.dispose()


def test_sqlite_rules_are_registered_once_per_engine(tmp_path: Path) -> None:
    """Foreign keys on and BEGIN IMMEDIATE, one listener each, however many stores share it."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    leases = [lease_engine(url) for _ in range(5)]
    engine = leases[0].engine
    assert len(engine.dispatch.begin) == 1
    plain = make_engine(url)  # SQLAlchemy's own connect listeners, without ours
    assert len(engine.pool.dispatch.connect) == len(plain.pool.dispatch.connect) + 1
    plain.dispose()
    with engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    for lease in leases:
        lease.release()


def test_a_store_dropped_without_dispose_does_not_keep_its_engine(tmp_path: Path) -> None:
    """The registry holds engines weakly: a forgotten store's pool goes as its own engine did."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    before = shared_engine_count()
    store = KbStore(url)
    assert store.all() == []  # it has connected
    assert shared_engine_count() == before + 1
    del store
    gc.collect()
    assert shared_engine_count() == before
