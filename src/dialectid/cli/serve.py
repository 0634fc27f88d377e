"""`dialectid serve`: the caseworkers' web view over the case file."""

from __future__ import annotations

import ipaddress
import logging
import socket
from pathlib import Path
from typing import Annotated

import typer

from dialectid.cli.common import case_store, err, user_errors
from dialectid.errors import DialectidError


@user_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 serves this machine only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Model bundle for new analyses (default: models/lid-accurate).")
    ] = None,
    upload_limit_mb: Annotated[float, typer.Option(min=0.1, help="Largest recording an analyst may upload.")] = 100.0,
    secure_cookies: Annotated[bool, typer.Option(help="Send cookies over HTTPS only (behind a TLS proxy).")] = False,
) -> None:
    """Run the web view over the case file (FastAPI with uvicorn).

    Caseworkers read reports, analysts upload recordings, admins manage users and assignments.

    Add the first admin with `dialectid users add NAME --role admin`."""
    import uvicorn

    from dialectid.web import WebSettings, create_app

    _check_can_listen(host, port)
    app = create_app(case_store(), model, WebSettings(upload_limit_mb=upload_limit_mb, secure_cookies=secure_cookies))
    if not secure_cookies and not _loopback(host):
        err.print(f"warning: serving on {host} without --secure-cookies; put the server behind HTTPS", markup=False)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # uvicorn's own access log would record query strings; dialectid's middleware logs paths only.
    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False, log_level="info")


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
