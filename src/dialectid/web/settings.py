"""What an operator may tune in the web view; the defaults are the production values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

MB = 1024 * 1024


@dataclass(frozen=True)
class WebSettings:
    """Limits and lifetimes of the web view.

    >>> WebSettings(upload_limit_mb=2).upload_limit_bytes
    2097152
    """

    session_lifetime: timedelta = timedelta(hours=8)  # a working day; then log in again
    upload_limit_mb: float = 100.0  # two hours of 8 kHz 16-bit WAV are about 110 MB; compressed much less
    form_limit_bytes: int = 64 * 1024  # every request but an upload
    secure_cookies: bool = False  # True behind HTTPS: cookies are then never sent in clear text
    # Behind a TLS proxy: secure cookies and HSTS, and the client's address (for the login
    # throttle only) is the last one the proxy added to X-Forwarded-For. Anyone can write that
    # header, so it is trusted only with this setting.
    behind_proxy: bool = False
    # The proxies whose X-Forwarded-For is believed (addresses or networks): a client that reaches
    # the port directly, from anywhere else (another 127.x address too), is keyed on its own address.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    # Host header names the server answers to (`middleware.AllowedHosts`); others get 400. Empty: any
    # name, for an app made in tests; `dialectid serve` sets its own address and --allowed-host names.
    allowed_hosts: tuple[str, ...] = ()

    # Logins (`limits.LoginThrottle`): wrong passwords a client may send for one name, a client
    # address for any names, and everyone for one name, before each further failure makes that
    # client wait, twice as long each time. Nobody is ever locked out: another client with the
    # right password logs in at once.
    login_failures_per_client: int = 3
    login_failures_per_address: int = 10
    login_failures_per_account: int = 20  # then each client waits from its first failure on the name,
    # and every login for that name, from any address, is answered one after the other, at most one
    # per `account_interval_s` (at most `max_account_wait_s` late: slower, never refused)
    account_interval_s: float = 1.0
    max_account_wait_s: float = 30.0
    hash_concurrency: int = 2  # argon2 checks at once, 64 MiB each; one takes ~0.1-0.4 s
    hash_queue: int = 4  # logins waiting for a turn; more are answered 503 at once
    audit_window: timedelta = timedelta(minutes=15)  # repeated failed logins and refusals: a few rows per window

    # Uploads (`uploads`): what one analyst may put on the single analysis worker.
    uploads_per_minute: int = 10
    queued_uploads: int = 10  # recordings still waiting for (or in) their analysis
    max_recording_minutes: float = 120.0  # 2 h of 8 kHz WAV fill the upload limit; compressed files could say 20 h
    max_sample_rate_hz: int = 48_000  # the models listen at 8 or 16 kHz; more only costs decoding time
    max_channels: int = 8

    def __post_init__(self) -> None:
        import ipaddress

        from dialectid.errors import ConfigError

        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(f"trusted proxy {proxy!r} is not an address or network; give one such as "
                                  "127.0.0.1 or 10.0.0.0/8") from None  # fmt: skip

    @property
    def upload_limit_bytes(self) -> int:
        return int(self.upload_limit_mb * MB)

    @property
    def https(self) -> bool:
        """Whether browsers reach the server over HTTPS (Secure cookies, HSTS)."""
        return self.secure_cookies or self.behind_proxy
