"""Who may use the case file through the web view: users with one role each, their login sessions,
and the audit of failed logins. Every change is an audit event.

Failed logins lock nobody out: the web view slows down the client that sends them
(`dialectid.web.limits`). The `failed_logins` and `locked_until` columns of the users table are
left from the lockout this replaced and no longer used.

Passwords arrive here already hashed (`dialectid.web.passwords`) and session tokens as their
sha256: the case file never holds a secret that would let a copy of the database log in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from dialectid.casefile.schema import Case, User, WebSession
from dialectid.casefile.store import CaseError, CaseStore, now

ROLES = ("caseworker", "analyst", "admin")
# Staff logins, not people's names: short, no spaces, safe to show in URLs and logs.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")
ANONYMOUS = "anonymous"  # the actor of a failed login under an unknown name (the name itself is not kept)


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    active: bool

    @classmethod
    def of(cls, user: User) -> Account:
        return cls(user.id, user.name, user.role, user.active)


def check_user_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise CaseError(f"user name {name!r} is not valid: use 2 to 64 letters, digits, '.', '_', '@' or '-'")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise CaseError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")
    return role


class Accounts:
    """Users and sessions in `store`'s database (composition: the store stays about cases)."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store

    # ---- users ---------------------------------------------------------------------------------
    def add(self, name: str, role: str, password_hash: str, actor: str) -> Account:
        check_user_name(name)
        check_role(role)
        with self.store.transaction() as session:
            if session.scalar(select(User.id).where(User.name == name)) is not None:
                raise CaseError(f"user {name!r} already exists")
            user = User(name=name, role=role, password_hash=password_hash, active=True, failed_logins=0,
                        locked_until=None, created_at=now())  # fmt: skip
            session.add(user)
            session.flush()
            self.store.chain.append(session, actor, "user added", None, user=name, role=role)
            return Account.of(user)

    def credentials(self, name: str) -> tuple[Account, str] | None:
        """The account and its password hash, for checking a login; None for an unknown name."""
        with self.store.transaction() as session:
            user = session.scalar(select(User).where(User.name == name))
            return None if user is None else (Account.of(user), user.password_hash)

    def get(self, user_id: int) -> Account | None:
        with self.store.transaction() as session:
            user = session.get(User, user_id)
            return None if user is None else Account.of(user)

    def by_name(self, name: str) -> Account:
        with self.store.transaction() as session:
            return Account.of(self._user(session, name))

    def list(self) -> list[dict]:
        with self.store.transaction() as session:
            assigned = select(func.count(Case.id)).where(Case.assigned_to == User.id).scalar_subquery()
            rows = session.execute(select(User, assigned).order_by(User.name)).all()
        return [{"id": u.id, "name": u.name, "role": u.role, "active": u.active, "cases": n} for u, n in rows]

    def set_active(self, name: str, active: bool, actor: str) -> Account:
        """Deactivating ends the user's sessions at once."""
        with self.store.transaction() as session:
            user = self._user(session, name)
            user.active = active
            if not active:
                self._end_sessions(session, user.id)
            self.store.chain.append(session, actor, "user activated" if active else "user deactivated", None, user=name)
            return Account.of(user)

    def set_password(self, name: str, password_hash: str, actor: str) -> None:
        with self.store.transaction() as session:
            user = self._user(session, name)
            user.password_hash = password_hash
            self._end_sessions(session, user.id)
            self.store.chain.append(session, actor, "password set", None, user=name)

    def rehash(self, user_id: int, password_hash: str) -> None:
        """Store a stronger hash of the same password (after a login); not a security event."""
        with self.store.transaction() as session:
            session.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))

    def _user(self, session, name: str) -> User:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise CaseError(f"no user {name!r}; `dialectid users list` shows the users")
        return user

    # ---- logins --------------------------------------------------------------------------------
    def login_failed(self, account: Account | None, attempts: int = 1, client: str | None = None,
                     since: str | None = None) -> None:  # fmt: skip
        """Audit failed logins: `attempts` of them from address `client` since `since` (the web
        view writes one row for many, `dialectid.web.auditing`). An unknown or inactive name is
        audited as `anonymous`, without the name."""
        actor = account.name if account else ANONYMOUS
        reason = "wrong password" if account else "unknown or inactive user"
        details = {"reason": reason, "attempts": attempts} | ({"client": client} if client else {})
        details |= {"since": since} if since else {}
        with self.store.transaction() as session:
            self.store.chain.append(session, actor, "login failed", None, **details)

    def open_session(self, account: Account, token_sha256: str, lifetime: timedelta) -> datetime:
        """A successful login: store the session; returns when it expires."""
        with self.store.transaction() as session:
            session.execute(delete(WebSession).where(WebSession.expires_at < now()))  # housekeeping
            user = session.get(User, account.id)
            if user is None:  # removed between the password check and here
                raise CaseError(f"no user {account.name!r}")
            expires = now() + lifetime
            session.add(WebSession(id=token_sha256, user_id=user.id, created_at=now(), expires_at=expires))
            self.store.chain.append(session, user.name, "logged in", None)
            return expires

    def session_account(self, token_sha256: str) -> Account | None:
        """The active user of a live session, or None (unknown, expired, ended, user deactivated)."""
        with self.store.transaction() as session:
            user = session.scalar(
                select(User).join(WebSession, WebSession.user_id == User.id)
                .where(WebSession.id == token_sha256, WebSession.ended_at.is_(None),
                       WebSession.expires_at > now(), User.active.is_(True)))  # fmt: skip
            return None if user is None else Account.of(user)

    def end_session(self, token_sha256: str, actor: str) -> None:
        with self.store.transaction() as session:
            session.execute(update(WebSession).where(WebSession.id == token_sha256, WebSession.ended_at.is_(None))
                            .values(ended_at=now()))  # fmt: skip
            self.store.chain.append(session, actor, "logged out", None)

    def _end_sessions(self, session, user_id: int) -> None:
        session.execute(update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
                        .values(ended_at=now()))  # fmt: skip
