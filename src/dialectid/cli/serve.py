"""`dialectid serve`: the caseworkers' web view over the case file."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from dialectid.cli.common import MODEL_HELP, case_store, err, user_errors
from dialectid.errors import DialectidError
from dialectid.extras import require_extra


@user_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 serves this machine only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help=f"{MODEL_HELP} It makes the new analyses.")
    ] = None,
    dialect_model: Annotated[
        Path | None,
        typer.Option("--dialect-model", help="Dialect bundle under the model for new analyses (none by default)."),
    ] = None,
    upload_limit_mb: Annotated[float, typer.Option(min=0.1, help="Largest recording an analyst may upload.")] = 100.0,
    secure_cookies: Annotated[bool, typer.Option(help="Send cookies over HTTPS only, and HSTS.")] = False,
    behind_proxy: Annotated[
        bool,
        typer.Option(
            help="Behind a TLS proxy: secure cookies and HSTS; the client address (for the login "
            "throttle) is the last one in X-Forwarded-For."
        ),
    ] = False,
    trusted_proxies: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            help="With --behind-proxy: the address (or network) of the proxy whose X-Forwarded-For "
            "is believed; repeatable [127.0.0.1 and ::1]. Other peers are keyed on their own address.",
        ),
    ] = None,
    allowed_hosts: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="Another name browsers reach the server by (the name a proxy forwards, this machine's "
            "address); repeatable. The address it listens on is always allowed, other Host headers get 400.",
        ),
    ] = None,
) -> None:
    """Run the web view over the case file (FastAPI with uvicorn).

    Caseworkers read reports, analysts upload recordings, admins manage users and assignments.

    Add the first admin with `dialectid users add NAME --role admin`."""
    require_extra("web", "the web view")
    from dialectid.web import WebSettings

    settings = WebSettings(upload_limit_mb=upload_limit_mb, secure_cookies=secure_cookies, behind_proxy=behind_proxy,
                           allowed_hosts=tuple(allowed_hosts or ()),
                           trusted_proxies=tuple(trusted_proxies or ("127.0.0.1", "::1")))  # fmt: skip
    run_server(case_store(), model, host, port, settings, dialect_model)


def run_server(store, model: Path | None, host: str, port: int, settings=None,
               dialect_model: Path | None = None) -> None:  # fmt: skip
    """Serve the web view over `store` until Ctrl-C (also for `dialectid demo`)."""
    import uvicorn

    from dialectid.web import WebSettings, create_app
    from dialectid.web.logsafe import log_config

    settings = settings or WebSettings()
    settings = replace(settings, allowed_hosts=(*served_names(host), *settings.allowed_hosts))
    _check_can_listen(host, port)
    app = create_app(store, model, settings, dialect_model)
    if warning := transport_warning(host, settings.behind_proxy, settings.secure_cookies):
        err.print(warning, markup=False)
    err.print(f"answering to the host names {', '.join(settings.allowed_hosts)} (--allowed-host adds one)",
              markup=False)  # fmt: skip
    # Every record, uvicorn's too, goes through a formatter that writes control characters out.
    # uvicorn's own access log would record query strings; dialectid's middleware logs paths only.
    # X-Forwarded-For is left to the app, which trusts it only --behind-proxy.
    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False, log_config=log_config(),
                proxy_headers=False)  # fmt: skip


def transport_warning(host: str, behind_proxy: bool, secure_cookies: bool) -> str | None:
    """What an operator should hear about plain HTTP before the server starts; None if nothing."""
    where = f"{host} (not this machine only)"
    if behind_proxy:
        return None if _loopback(host) else (f"warning: --behind-proxy on {where}: anyone who reaches the port "
                                             "can write X-Forwarded-For; let only the proxy reach it")  # fmt: skip
    if not _loopback(host):
        return (f"warning: serving plain HTTP on {where}: passwords and session cookies cross the network in clear "
                "text; put a TLS proxy in front and start with --behind-proxy")  # fmt: skip
    if secure_cookies:
        return None
    return (f"warning: serving plain HTTP on {host}; if a TLS proxy forwards to it, start with --behind-proxy "
            "(Secure cookies, HSTS, the client's address from X-Forwarded-For)")  # fmt: skip


def served_names(host: str) -> tuple[str, ...]:
    """The Host header names a server listening on `host` answers to: that address, this machine's
    loopback names where it listens on loopback, and this machine's names where it listens on all.

    >>> served_names("127.0.0.1")
    ('127.0.0.1', 'localhost', '::1')
    >>> served_names("192.0.2.7")
    ('192.0.2.7',)
    """
    names = [host]
    if _loopback(host) or host in ("0.0.0.0", "::", ""):
        names += ["127.0.0.1", "localhost", "::1"]
    if host in ("0.0.0.0", "::", ""):
        names += [socket.gethostname(), socket.getfqdn()]
    return tuple(dict.fromkeys(name for name in names if name not in ("0.0.0.0", "::", "")))


def _check_can_listen(host: str, port: int) -> None:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        raise DialectidError(f"cannot listen on {host}:{port} ({error.strerror or error}); "
                             "choose another --host or --port") from None  # fmt: skip


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
