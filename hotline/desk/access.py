"""A session lasts only while its user may still use the desktop (issue 13, item 4).

* Every request re-reads the user (one primary-key query): disabled, deleted or with a new
  password since the session opened (``Session.stamp`` differs) ends the session there (401, or
  the log-in page). The database away: the user's last known state is used (a desktop that
  keeps taking calls through an outage matters more; the change itself needs the database).
* Websockets close at once (code ``SESSION_ENDED``; the page goes to the log-in page) when
  their session ends: at log-out, when it expires (checked every second, memory only), and when
  ``hotline user disable``/``reset-password`` announces the change on Redis (``channel``).
  The users of open websockets are also re-read every ``recheck_s``, in case a notice was lost
  (Redis away when the command ran).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis

from hotline.base.web.sessions import Session
from hotline.desk.live import LiveHub
from hotline.desk.login_limits import LoginGuard
from hotline.desk.session_store import DeskSessions
from hotline.desk.users import User, UserStore

log = logging.getLogger(__name__)


def channel(key_prefix: str) -> str:
    """Where ``hotline user`` announces a changed user: JSON {"user": NAME, "event": WHAT}."""
    return f"{key_prefix}desk:users"


class UserGate:
    def __init__(
        self,
        users: UserStore,
        sessions: DeskSessions,
        hub: LiveHub,
        guard: LoginGuard,
        client: aioredis.Redis | None = None,
        key_prefix: str = "hotline:",
        *,
        recheck_s: float = 15.0,
        watch_s: float = 1.0,
    ) -> None:
        self._users = users
        self._sessions = sessions
        self._hub = hub
        self._guard = guard
        self._client = client
        self._channel = channel(key_prefix)
        self._recheck_s = recheck_s
        self._watch_s = watch_s
        self._known: dict[str, User | None] = {}

    async def allows(self, session: Session) -> bool:
        """Whether the session's user may still use it (read from the database now)."""
        try:
            user = await asyncio.to_thread(self._users.get, session.user)
        except Exception as exc:
            log.warning("desktop user %s not re-read (%s); last known state", session.user, exc)
            if session.user not in self._known:
                return True
            user = self._known[session.user]
        else:
            self._known[session.user] = user
            if len(self._known) > 100_000:
                self._known.clear()
        if user is None or not user.active:
            return False
        return not session.stamp or session.stamp == user.stamp

    async def end(self, sid: str) -> None:
        """The session is over: forgotten here and in Redis, its websockets closed now."""
        await self._sessions.close(sid)
        self._hub.close_session(sid)

    async def recheck(self, user: str) -> int:
        """End this user's sessions that it may no longer use; how many ended."""
        ended = 0
        for session in self._sessions.store.of_user(user):
            if not await self.allows(session):
                await self.end(session.sid)
                ended += 1
        if ended:
            log.info("desktop: %d session(s) of %s ended (user changed)", ended, user)
        return ended

    async def run(self) -> None:
        """Watch expiries, re-read users every ``recheck_s``, hear ``hotline user``'s notices."""
        listener = asyncio.ensure_future(self._listen())
        try:
            await self._watch()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        next_recheck = loop.time() + self._recheck_s
        while True:
            await asyncio.sleep(self._watch_s)
            for sub in list(self._hub.subscribers):
                if not self._sessions.store.alive(sub.session.sid):
                    await self.end(sub.session.sid)
            if loop.time() >= next_recheck:
                next_recheck = loop.time() + self._recheck_s
                for user in {sub.session.user for sub in self._hub.subscribers}:
                    await self.recheck(user)

    async def _listen(self) -> None:
        if self._client is None:
            return
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._notice(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("desktop user notices: Redis not reachable (%s); retrying", exc)
                await asyncio.sleep(5.0)

    async def _notice(self, data: Any) -> None:
        try:
            notice = json.loads(data)
            user, event = str(notice["user"]), str(notice["event"])
        except (TypeError, ValueError, KeyError):
            log.warning("desktop user notice not understood; ignored")
            return
        if event == "unlock":
            self._guard.forget_name(user)
        else:
            await self.recheck(user)
