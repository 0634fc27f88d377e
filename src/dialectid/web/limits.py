"""What keeps one client from exhausting the server or from locking anyone else out: the login
throttle, the gate in front of the password hash, the upload quota, and the client address they
key on. All of it lives in memory, per server process (several processes behind one proxy each
keep their own counts): nothing here needs the case file's schema, and a restart forgets it.

Nobody is ever locked out. Wrong passwords make the client that sent them wait, a little longer
each time; the right password from another client works at once, for every account.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dialectid.web.auditing import AuditAggregator
from dialectid.web.errors import Busy, Throttled
from dialectid.web.settings import WebSettings

FORGET_S = 15 * 60  # failures this old no longer count
MAX_PAIR_WAIT_S = 15 * 60  # one name from one client: guessing is slowed to a crawl
MAX_ADDRESS_WAIT_S = 60  # one address for any names: an office behind one NAT waits a minute at most
BUSY = "the server is busy checking other logins; try again in a few seconds"


def client_address(scope: Mapping[str, Any], behind_proxy: bool,
                   trusted: tuple[str, ...] = ("127.0.0.1", "::1")) -> str:  # fmt: skip
    """The client's address: the peer's, or behind a proxy, where the peer is one of the `trusted`
    proxies (addresses or networks), the last address in X-Forwarded-For (the one the proxy added:
    those before it are the client's to write). An IPv6 address stands for its /64, which one
    client usually holds whole.

    >>> scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"192.0.2.9, 203.0.113.4")]}
    >>> client_address(scope, behind_proxy=False), client_address(scope, behind_proxy=True)
    ('127.0.0.1', '203.0.113.4')
    >>> client_address({**scope, "client": ("127.0.0.2", 5000)}, behind_proxy=True)  # not the proxy
    '127.0.0.2'
    >>> client_address({"client": ("2001:db8::1:2", 5000)}, behind_proxy=False)
    '2001:db8::/64'
    """
    address = (scope.get("client") or ("unknown", 0))[0]
    if behind_proxy and _among(address, trusted):
        forwarded = b",".join(value for name, value in scope.get("headers", []) if name == b"x-forwarded-for")
        last = forwarded.decode("latin-1").split(",")[-1].strip()
        address = last if _ip(last) else address
    ip = _ip(address)
    if ip is None:
        return address[:64]
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(getattr(ip, "ipv4_mapped", None) or ip)


def _among(address: str, networks: tuple[str, ...]) -> bool:
    ip = _ip(address)
    if ip is None:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass
class _Failures:
    count: int
    last: float
    blocked_until: float = 0.0


class Backoff:
    """Failures per key. From the `free`-th failure on, each one blocks the key for 1, 2, 4 ... s
    (at most `cap_s`); a key is forgotten `FORGET_S` after its last failure, and at most
    `max_keys` are kept (the least recently failed are forgotten first). Not thread-safe."""

    def __init__(self, cap_s: float, max_keys: int = 10_000) -> None:
        self.cap_s, self.max_keys = cap_s, max_keys
        self._keys: OrderedDict[Hashable, _Failures] = OrderedDict()

    def wait(self, key: Hashable, now: float) -> float:
        """Seconds until `key` may try again; 0 if it may now."""
        entry = self._keys.get(key)
        return 0.0 if entry is None else max(0.0, entry.blocked_until - now)

    def failed(self, key: Hashable, now: float, free: int) -> int:
        """Count a failure; returns the key's failures within the last `FORGET_S`."""
        entry = self._keys.pop(key, None)
        if entry is None or now - entry.last > FORGET_S:
            entry = _Failures(0, now)
        entry.count, entry.last = entry.count + 1, now
        if entry.count >= free:
            entry.blocked_until = now + min(self.cap_s, 2.0 ** (entry.count - free))
        self._keys[key] = entry
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)
        return entry.count

    def clear(self, key: Hashable) -> None:
        self._keys.pop(key, None)


class LoginThrottle:
    """Slows down guessing without locking anyone out, and answers alike for names that exist and
    names that do not (it keys on the name as typed, never on whether it is an account):

    - one name from one client: `login_failures_per_client` failures, then waits of 1, 2, 4 ... s;
    - one client for any names: `login_failures_per_address`, then waits of up to a minute;
    - one name from everyone: past `login_failures_per_account`, each client waits from its own
      first failure on that name (a distributed guess) -- a client with no failures never waits;
      and every login for that name, from any address however many it rotates through, is
      answered one after the other, one per `account_interval_s` (`account_delay`): slower, at
      most `max_account_wait_s`, but never refused, so a stranger cannot lock its owner out.
    """

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self._pairs, self._addresses = Backoff(MAX_PAIR_WAIT_S), Backoff(MAX_ADDRESS_WAIT_S)
        self._names = Backoff(0)  # only counted
        self._slots: OrderedDict[str, float] = OrderedDict()  # name -> when its next login may be checked
        self._lock = threading.Lock()
        self.sleep: Callable[[float], None] = time.sleep  # tests count the waits instead

    def account_delay(self, name: str) -> float:
        """Seconds this login for `name` waits before its password is checked: 0 until the name has
        had `login_failures_per_account` recent failures (from anyone); then the next free slot of
        the name, one per `account_interval_s`, whatever address the login comes from."""
        settings, now = self.settings, time.monotonic()
        with self._lock:
            entry = self._names._keys.get(name)
            if entry is None or now - entry.last > FORGET_S or entry.count < settings.login_failures_per_account:
                return 0.0
            slot = min(max(now, self._slots.get(name, now)), now + settings.max_account_wait_s)
            self._slots[name] = slot + settings.account_interval_s
            self._slots.move_to_end(name)
            while len(self._slots) > self._names.max_keys:
                self._slots.popitem(last=False)
        return slot - now

    def check(self, name: str, address: str) -> None:
        """Raise `Throttled` if this client must wait before it tries `name` again."""
        now = time.monotonic()
        with self._lock:
            wait = max(self._pairs.wait((name, address), now), self._addresses.wait(address, now))
        if wait > 0:
            raise Throttled(f"too many failed logins from your address; try again in {math.ceil(wait)} s", wait)

    def failed(self, name: str, address: str) -> None:
        now = time.monotonic()
        settings = self.settings
        with self._lock:
            self._addresses.failed(address, now, settings.login_failures_per_address)
            everyone = self._names.failed(name, now, free=2**31)
            free = 0 if everyone > settings.login_failures_per_account else settings.login_failures_per_client
            self._pairs.failed((name, address), now, free)

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._pairs.clear((name, address))


class HashGate:
    """At most `concurrent` password hashes at once (argon2id takes 64 MiB and a core for each),
    and at most `queue` more logins waiting for a turn, up to `wait_s`; the others are told to
    come back (503, Retry-After) at once, before they cost anything. Waiting logins hold a worker
    thread each, so the queue is kept short: the threads are the same ones every page needs."""

    def __init__(self, concurrent: int, queue: int, wait_s: float = 5.0) -> None:
        self.wait_s = wait_s
        self._admitted = threading.BoundedSemaphore(concurrent + queue)
        self._hashing = threading.BoundedSemaphore(concurrent)

    @contextmanager
    def turn(self) -> Iterator[None]:
        if not self._admitted.acquire(blocking=False):
            raise Busy(BUSY, 2)
        try:
            if not self._hashing.acquire(timeout=self.wait_s):
                raise Busy(BUSY, 2)
            try:
                yield
            finally:
                self._hashing.release()
        finally:
            self._admitted.release()


class UploadQuota:
    """Per user: uploads started in the last minute, and accepted recordings whose analysis has
    not finished (each costs the single analysis worker up to a minute). Thread-safe."""

    def __init__(self, per_minute: int, queued: int) -> None:
        self.per_minute, self.queued = per_minute, queued
        self._started: dict[str, deque[float]] = defaultdict(deque)
        self._jobs: dict[str, list[str]] = defaultdict(list)  # one job id per accepted upload
        self._in_flight: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def waiting(self, user: str, finished: Callable[[str], bool]) -> int:
        """How many of `user`'s accepted uploads wait for their analysis; `finished(job_id)` says
        whether a job is done (it looks in the case file: call this off the event loop)."""
        with self._lock:
            jobs = set(self._jobs[user])
        done = {job for job in jobs if finished(job)}
        with self._lock:
            self._jobs[user] = [job for job in self._jobs[user] if job not in done]
            return len(self._jobs[user])

    @contextmanager
    def admit(self, user: str, waiting: int) -> Iterator[list[str]]:
        """A slot for one upload by `user`, who has `waiting` uploads waiting (`waiting()`), or
        `Throttled`. Append the job id of an accepted upload to the list this yields."""
        now = time.monotonic()
        with self._lock:
            started = self._started[user]
            while started and now - started[0] >= 60:
                started.popleft()
            if len(started) >= self.per_minute:
                raise Throttled(f"you started {len(started)} uploads in the last minute, the most allowed; try again "
                                f"in {math.ceil(60 - (now - started[0]))} s", 60 - (now - started[0]))  # fmt: skip
            if waiting + self._in_flight[user] >= self.queued:
                raise Throttled(f"{self.queued} of your recordings are still waiting for their analysis, the most "
                                "allowed; upload more once they are analysed", 30)  # fmt: skip
            started.append(now)
            self._in_flight[user] += 1
        accepted: list[str] = []
        try:
            yield accepted
        finally:
            with self._lock:
                self._in_flight[user] -= 1
                self._jobs[user].extend(accepted)


@dataclass
class Guards:
    """The app's throttles and quotas, and the aggregated audit of what anyone can repeat."""

    logins: LoginThrottle
    hashing: HashGate
    uploads: UploadQuota
    audit: AuditAggregator
    route_words: frozenset[str]  # the fixed words of the app's routes (`auditing.path_shape`)

    @classmethod
    def of(cls, settings: WebSettings, route_words: frozenset[str]) -> Guards:
        return cls(LoginThrottle(settings), HashGate(settings.hash_concurrency, settings.hash_queue),
                   UploadQuota(settings.uploads_per_minute, settings.queued_uploads),
                   AuditAggregator(settings.audit_window.total_seconds()), route_words)  # fmt: skip
