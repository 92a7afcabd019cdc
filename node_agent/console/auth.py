"""Sign-in links, sessions and CSRF tokens, held in memory by one console process.

1. At start the console mints a sign-in link: a random token, kept only as its SHA-256,
   valid for ``link_ttl`` and used at most once.
2. Opening the link swaps it for a session: a random id in an HttpOnly, SameSite=Strict
   cookie (the id too is kept only as its SHA-256), with its own CSRF token.
3. A session lives ``session_ttl`` from sign-in (absolute, not sliding); logout ends it.
4. Every form POST carries the session's CSRF token; a wrong or missing one is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from xinlian.clock import Clock

TOKEN_BYTES = 32
"""Random bytes in a sign-in token, a session id and a CSRF token."""
DEFAULT_LINK_TTL = timedelta(minutes=5)
DEFAULT_SESSION_TTL = timedelta(minutes=30)
MAX_SESSIONS = 64
"""Live sessions kept at once; the oldest is dropped past this."""


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


@dataclass(frozen=True)
class Session:
    csrf: str
    expires: datetime


class Sessions:
    """The sign-in links and sessions of one console process (thread-safe)."""

    def __init__(self, clock: Clock, link_ttl: timedelta, session_ttl: timedelta) -> None:
        self.clock = clock
        self.link_ttl = link_ttl
        self.session_ttl = session_ttl
        self._links: dict[bytes, datetime] = {}
        self._sessions: dict[bytes, Session] = {}
        self._lock = threading.Lock()

    def mint_link_token(self) -> str:
        """A new single-use sign-in token (step 1)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._lock:
            self._links[_digest(token)] = self.clock.now() + self.link_ttl
        return token

    def sign_in(self, token: str) -> tuple[str, Session] | None:
        """Swap a sign-in token for a new session id (step 2); None if the token is unknown,
        used or expired. The token is gone after the first try that names it."""
        now = self.clock.now()
        with self._lock:
            expires = self._links.pop(_digest(token), None)
            if expires is None or now >= expires:
                return None
            sid = secrets.token_urlsafe(TOKEN_BYTES)
            session = Session(
                csrf=secrets.token_urlsafe(TOKEN_BYTES), expires=now + self.session_ttl
            )
            self._sessions[_digest(sid)] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.pop(next(iter(self._sessions)))
            return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session of a cookie value (step 3); an expired one is dropped."""
        if not sid:
            return None
        key = _digest(sid)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if self.clock.now() >= session.expires:
                del self._sessions[key]
                return None
            return session

    def end(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._sessions.pop(_digest(sid), None)


def csrf_ok(session: Session, sent: object) -> bool:
    """Step 4: the form's token is the session's (compared in constant time)."""
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), session.csrf.encode())
