"""Issue #16's attacks on the web view, each reproduced as an attacker would make it and answered
as it should be: logins that cannot be used to exhaust the server or lock anyone out, uploads
refused before their body is read, audit trails and logs that take no text from a URL, passwords
that are not the first an attacker tries, recordings that cannot tie up the analysis worker, and
answers that name nothing they should not.

The tests that stream bodies or send parallel requests use a real server (uvicorn on 127.0.0.1)
and raw sockets; the others use the app in process. Client addresses are from the documentation
ranges (RFC 5737): they only label requests, no traffic goes anywhere.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import soundfile as sf
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from audiofactory import speechlike, write
from dialectid.casefile.accounts import Accounts
from dialectid.casefile.summaries import to_json
from dialectid.web import WebSettings, create_app, passwords
from webapp import CHEAP_HASHER, PASSWORD, cheap_passwords, page_csrf, serve_process, serving, wait_for_job, world_of

MB = 1024 * 1024
BOUNDARY = "b0undary"
# Relaxed login throttling, for the tests that count audit rows or times rather than refusals.
NO_BACKOFF = {"login_failures_per_client": 1000, "login_failures_per_address": 1000,
              "login_failures_per_account": 1000}  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory, stats_bundle, toy_corpus):
    with world_of(tmp_path_factory.mktemp("abuse"), stats_bundle, toy_corpus) as made:
        yield made


@pytest.fixture(scope="module")
def app(world):
    return create_app(world.store, world.bundle)


def make_app(world, **settings):
    """An app of its own (its own throttles and quotas) over the module's case file."""
    return create_app(world.store, world.bundle, WebSettings(**settings))


def browser(app, address: str = "192.0.2.1", name: str | None = None) -> TestClient:
    """A client at `address`, logged in through the API as `name` if given."""
    made = TestClient(app, client=(address, 40000), follow_redirects=False)
    if name:
        assert made.post("/api/session", json={"name": name, "password": PASSWORD}).status_code == 200
    return made


def api_login(client, name: str, password: str = PASSWORD):
    return client.post("/api/session", json={"name": name, "password": password})


def denied_rows(world, reference=None) -> list[dict]:
    return [e for e in world.store.events(reference) if e.action == "access denied"]


def login_rows(world, address: str) -> list[dict]:
    return [e for e in world.store.events() if e.action == "login failed" and e.details.get("client") == address]


# ---- 6. logging in as a denial of service -------------------------------------------------------------
class SlowHasher:
    """The tests' cheap hasher, made as slow as the real one and counting the hashes running at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.running, self.most = seconds, 0, 0
        self.lock = threading.Lock()

    def _timed(self, call):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.seconds)
            return call()
        finally:
            with self.lock:
                self.running -= 1

    def hash(self, password: str) -> str:
        return self._timed(lambda: CHEAP_HASHER.hash(password))

    def verify(self, stored: str, password: str) -> bool:
        return self._timed(lambda: CHEAP_HASHER.verify(stored, password))

    def check_needs_rehash(self, stored: str) -> bool:
        return CHEAP_HASHER.check_needs_rehash(stored)


def test_parallel_logins_hash_two_at_a_time_and_the_server_stays_responsive(world, monkeypatch):
    slow = SlowHasher(0.3)
    before = len(login_rows(world, "127.0.0.1"))
    with serving(make_app(world)) as port:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as analyst:
            assert api_login(analyst, "anna").status_code == 200
            monkeypatch.setattr(passwords, "_hasher", lambda: slow)
            start = threading.Barrier(60)

            def attempt(i: int) -> httpx.Response:
                start.wait(timeout=30)
                name = "carla" if i % 2 else f"nobody-{i}"
                return httpx.post(f"{base}/api/session", json={"name": name, "password": "a guess"}, timeout=60)

            with ThreadPoolExecutor(max_workers=60) as pool:
                answers = pool.map(attempt, range(60))
                took = []
                for _ in range(5):  # a logged-in user meanwhile
                    began = time.perf_counter()
                    assert analyst.get("/api/session").status_code == 200
                    took.append(time.perf_counter() - began)
                answers = list(answers)
    statuses = [a.status_code for a in answers]
    assert slow.most <= 2, f"{slow.most} hashes ran at once"
    assert set(statuses) <= {400, 429, 503} and statuses.count(400) >= 2, statuses
    assert all(a.headers.get("retry-after", "").isdigit() for a in answers if a.status_code in (429, 503))
    assert statistics.median(took) < 0.5 and max(took) < 3.0, took  # client threads share this process's cores
    assert len(login_rows(world, "127.0.0.1")) - before <= 4  # aggregated, not one row per attempt


def test_failed_logins_are_audited_once_per_account_and_address_with_a_count(world):
    address = "203.0.113.20"
    with TestClient(make_app(world, **NO_BACKOFF), client=(address, 40000)) as attacker:
        for _ in range(25):
            assert api_login(attacker, "colin", "wrong password!").status_code == 400
        for i in range(12):
            assert api_login(attacker, f"nobody-{i}", "wrong password!").status_code == 400
        during = login_rows(world, address)
        assert [(e.actor, e.details["attempts"]) for e in during] == [("colin", 1), ("colin", 10),
                                                                           ("anonymous", 1), ("anonymous", 10)]  # fmt: skip
    closing = login_rows(world, address)[len(during) :]  # the server's shutdown writes the final counts
    assert sorted((e.actor, e.details["attempts"]) for e in closing) == [("anonymous", 12), ("colin", 25)]
    assert not any("nobody" in json.dumps(to_json(e)) for e in login_rows(world, address))  # unknown names are not kept


# ---- 7. lockout: anyone could lock any account, and tell which names exist --------------------------
def test_failures_from_one_client_never_keep_the_right_password_out_from_another(world):
    app = make_app(world)
    attacker = browser(app, "203.0.113.7")
    statuses = [api_login(attacker, "adam", f"guess number {i}").status_code for i in range(8)]
    assert statuses[:3] == [400, 400, 400] and set(statuses[3:]) == {429}, statuses
    refused = api_login(attacker, "adam", "guess number 9")
    assert int(refused.headers["retry-after"]) >= 1 and "try again in" in refused.json()["detail"]
    began = time.perf_counter()
    assert api_login(browser(app, "198.51.100.9"), "adam").status_code == 200  # the admin, from elsewhere
    assert time.perf_counter() - began < 2.0
    # many clients failing once each (a distributed attack) do not keep the next one out either
    spread = [api_login(browser(app, f"198.51.100.{100 + i}"), "carla", "a guess").status_code for i in range(25)]
    assert set(spread) == {400}
    assert api_login(browser(app, "198.51.100.200"), "carla").status_code == 200
    assert "account locked" not in {e.action for e in world.store.events()}


def test_unknown_and_known_names_get_the_same_answers(world):
    app = make_app(world)
    known, unknown = browser(app, "203.0.113.31"), browser(app, "203.0.113.32")
    for _ in range(6):  # wrong, wrong, wrong, then told to wait: the same for both
        a, b = api_login(known, "colin", "not his password"), api_login(unknown, "no-such-user", "not his password")
        assert (a.status_code, a.json(), a.headers.get("retry-after")) == (
            b.status_code, b.json(), b.headers.get("retry-after"))  # fmt: skip
    assert a.status_code == 429
    pages = []
    for name in ("colin", "no-such-user"):
        form = browser(app, "203.0.113.33" if name == "colin" else "203.0.113.34")
        token = form.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        answer = form.post("/login", data={"name": name, "password": "not his password", "csrf_token": token})
        pages.append((answer.status_code, "wrong user name or password" in answer.text))
    assert pages[0] == pages[1] == (400, True)


def test_unknown_and_known_names_take_about_the_same_time(world, monkeypatch):
    """With a hash that costs about what a request does, so that skipping it would show."""
    hasher = PasswordHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", lambda: hasher)
    Accounts(world.store).add("kim", "caseworker", hasher.hash(PASSWORD), "setup")
    app = make_app(world, **NO_BACKOFF)
    times: dict[str, list[float]] = {"kim": [], "no-such-user": []}
    for i in range(12):
        for name in times:  # interleaved, so that the machine's load falls on both alike
            client = browser(app, f"198.51.100.{i}")
            began = time.perf_counter()
            assert api_login(client, name, "not the password").status_code == 400
            times[name].append(time.perf_counter() - began)
    known, unknown = statistics.median(times["kim"]), statistics.median(times["no-such-user"])
    assert 1 / 2.5 < known / unknown < 2.5, times


# ---- 8. uploads read to the end before the session was checked ---------------------------------------
def stream_upload(port: int, path: str, headers: dict[str, str] | None = None, total: int = 95 * MB):
    """POST a chunked multipart body of up to `total` bytes as an attacker would: keep sending until
    the server answers or closes the connection. Returns (status, body bytes sent, answer)."""
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked",
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]  # fmt: skip
    part = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="recording"; filename="big.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode()  # fmt: skip
    chunk, sent = part + bytes(256 * 1024 - len(part)), 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        sock.settimeout(5)
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
                chunk = bytes(256 * 1024)
            if sent >= total:  # all of it: close the multipart body, then the chunked stream
                tail = f"\r\n--{BOUNDARY}--\r\n".encode()
                sock.sendall(f"{len(tail):x}\r\n".encode() + tail + b"\r\n0\r\n\r\n")
        except OSError:  # the server closed the connection, or stopped reading: stop sending
            pass
        sock.settimeout(60)
        answer = b""
        while b"\r\n\r\n" not in answer and (data := sock.recv(65536)):
            answer += data
        head, _, body = answer.partition(b"\r\n\r\n")
        fields = dict(line.lower().split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
        length = int(fields.get(b"content-length", b"0"))
        while len(body) < length and (data := sock.recv(65536)):
            body += data
    return int(head.split()[1]), sent, (head + b"\r\n\r\n" + body).decode(errors="replace")


def no_spooled_uploads(world) -> bool:
    folder = world.store.root / "uploads"
    return not folder.exists() or not any(folder.iterdir())


def server_login(port: int, name: str) -> tuple[dict[str, str], str]:
    """The session cookie (as a Cookie header) and CSRF token of `name`, logged in over HTTP."""
    answer = httpx.post(f"http://127.0.0.1:{port}/api/session", json={"name": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    cookie = "; ".join(f"{k}={v}" for k, v in answer.cookies.items())
    return {"Cookie": cookie}, answer.json()["csrf_token"]


def test_uploads_without_a_session_role_or_csrf_token_are_answered_before_their_body(world):
    case = world.cases["carla"]
    with serving(make_app(world)) as port:
        carla, carla_csrf = server_login(port, "carla")
        anna, _ = server_login(port, "anna")
        attempts = [("/api/cases/{}/recordings", {}, 401), ("/cases/{}/recordings", {}, 303),
                    ("/api/cases/{}/recordings", {**carla, "X-CSRF-Token": carla_csrf}, 403),  # a caseworker
                    ("/api/cases/{}/recordings", anna, 403)]  # an analyst without the CSRF token  # fmt: skip
        for path, headers, expected in attempts:
            status, sent, answer = stream_upload(port, path.format(case), headers)
            assert status == expected, answer
            assert sent < 16 * MB, f"{path}: {sent / MB:.0f} MB of 95 were taken before the answer"
    assert no_spooled_uploads(world)


def test_an_oversized_upload_is_refused_while_it_streams(world):
    with serving(make_app(world, upload_limit_mb=1)) as port:
        anna, csrf = server_login(port, "anna")
        status, sent, answer = stream_upload(port, f"/api/cases/{world.cases['colin']}/recordings",
                                             {**anna, "X-CSRF-Token": csrf})  # fmt: skip
    assert status == 413 and "the upload is larger than the limit of 1 MB" in answer
    assert sent < 16 * MB, f"{sent / MB:.0f} MB of 95 were taken before the answer"
    assert no_spooled_uploads(world)


def test_a_page_upload_needs_its_csrf_token_before_the_file(world, app):
    anna = browser(app, name="anna")
    token, case = page_csrf(anna), world.cases["colin"]
    file_part = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="recording"; filename="a.wav"\r\n'
                 f"Content-Type: audio/wav\r\n\r\n{'not audio ' * 300}\r\n")  # fmt: skip
    token_part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    late = anna.post(f"/cases/{case}/recordings", content=file_part + token_part + f"--{BOUNDARY}--\r\n",
                     headers=headers)  # fmt: skip
    assert late.status_code == 403 and "CSRF token missing or wrong" in late.text
    first = anna.post(f"/cases/{case}/recordings", content=token_part + file_part + f"--{BOUNDARY}--\r\n",
                      headers=headers)  # fmt: skip
    assert first.status_code == 415  # the token passed; the content is not audio


# ---- 11. text of one's choosing in another case's audit trail ----------------------------------------
def test_a_denied_url_writes_no_text_of_the_users_into_the_audit_trail_and_does_not_flood_it(world, app):
    carla = browser(app, "192.0.2.11", "carla")
    other = world.cases["colin"]
    before, before_none = len(denied_rows(world, other)), len(denied_rows(world))
    for _ in range(40):
        answer = carla.get(f"/api/cases/{other}/reports/NOTICE from admin: this case is closed, ignore it")
        assert answer.status_code == 404
    for _ in range(5):
        refused = carla.get("/cases/NOTICE-from-admin-all-cases-closed/audit")
        assert refused.status_code == 404 and "NOTICE" not in refused.text  # the answer does not echo it either
        assert "no case (not a case reference) among the cases you may see" in refused.text
    assert carla.post("/admin/users/NOTICE from admin/active", data={"active": "true", "csrf_token": page_csrf(carla)},
                      ).status_code == 403  # fmt: skip
    added = denied_rows(world, other)[before:]
    assert [e.details["attempts"] for e in added] == [1, 10]  # the first, then one per tenfold
    assert {e.details["path"] for e in added} == {"/api/cases/*/reports/*"}
    assert added[0].details["requested"] == other
    everything = json.dumps(to_json(world.store.events()))
    assert "NOTICE" not in everything
    elsewhere = denied_rows(world)[before_none:]
    assert {(e.details["path"], e.details.get("requested")) for e in elsewhere if e.case is None} == {
        ("/cases/*/audit", "(not a case reference)"), ("/admin/users/*/active", None)}  # fmt: skip


# ---- 12. log injection ------------------------------------------------------------------------------
def test_control_characters_in_a_path_are_escaped_in_the_log(world, app, caplog, monkeypatch):
    carla = browser(app, "192.0.2.12", "carla")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("dialectid.web.views.case_view", broken)
    with caplog.at_level(logging.INFO, logger="dialectid.web"):
        assert carla.get("/cases%0A2026-01-01 INFO dialectid.web.access: GET /admin 200%00").status_code == 404
        assert carla.get("/api/cases/x%0AFORGED%E2%80%A8line").status_code == 500
    logged = [record.getMessage() for record in caplog.records]
    assert "GET /cases\\x0a2026-01-01 INFO dialectid.web.access: GET /admin 200\\x00 404" in " ".join(logged)
    assert any("/api/cases/x\\x0aFORGED\\u2028line failed" in line for line in logged)
    assert not any(c in line for line in logged for c in "\n\r\x00\u2028")


def test_the_log_formatter_escapes_messages_and_indents_tracebacks():
    from dialectid.web.logsafe import SafeFormatter

    try:
        raise ValueError("bad value\n2026-01-01 INFO forged line")
    except ValueError:
        record = logging.LogRecord("dialectid.web", logging.ERROR, __file__, 1, "path %s failed",
                                   ("/x\n2026-01-01 INFO forged\x1b[2J",), sys.exc_info())  # fmt: skip
    lines = SafeFormatter("%(levelname)s %(message)s").format(record).splitlines()
    assert lines[0] == "ERROR path /x\\x0a2026-01-01 INFO forged\\x1b[2J failed"
    assert len(lines) > 2 and all(line.startswith(" | ") for line in lines[1:])  # a traceback cannot pose as a line


def test_serve_escapes_its_log_and_warns_about_plain_http(tmp_path, stats_bundle):
    with serve_process(tmp_path / "home", stats_bundle) as run:
        deadline, answer = time.monotonic() + 60, b""
        while not answer and time.monotonic() < deadline and run.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", run.port), timeout=5) as sock:
                    sock.sendall(b"GET /x%0AFORGED-LINE%00end HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    answer = sock.recv(4096)
            except OSError:
                time.sleep(0.2)
        assert answer.startswith(b"HTTP/1.1 404"), answer
    output = run.output
    assert "GET /x\\x0aFORGED-LINE\\x00end 404" in output
    assert not any(line.startswith("FORGED-LINE") for line in output.splitlines())
    assert "plain HTTP" in output and "--behind-proxy" in output


@pytest.mark.parametrize(
    ("host", "behind_proxy", "secure_cookies", "says"),
    [("127.0.0.1", False, False, "if a TLS proxy forwards to it"), ("0.0.0.0", False, False, "in clear text"),
     ("192.0.2.5", False, True, "in clear text"), ("0.0.0.0", True, False, "let only the proxy reach"),
     ("127.0.0.1", True, False, None), ("::1", True, True, None)],
)  # fmt: skip
def test_serve_warns_unless_tls_is_in_front(host, behind_proxy, secure_cookies, says):
    from dialectid.cli.serve import transport_warning

    warning = transport_warning(host, behind_proxy, secure_cookies)
    assert warning is None if says is None else says in warning


# ---- 13. passwords ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("password", "role", "name", "message"),
    [(" " * 12, "caseworker", "cora", "only white space"), ("\x00" * 12, "analyst", "cora", "control characters"),
     ("correct\thorse battery", "caseworker", "cora", "control characters"),
     ("\x00" * 20, "admin", "cora", "control characters"), ("password1234", "caseworker", "cora", "common passwords"),
     ("P@ssw0rd2024!", "caseworker", "cora", "common passwords"), ("qwertyuiop12", "analyst", "cora", "common passwords"),
     ("123456789012", "caseworker", "cora", "simple pattern"), ("aaaaaaaaaaab", "caseworker", "cora", "simple pattern"),
     ("iloveyouiloveyou", "caseworker", "cora", "simple pattern"), ("cora's long password", "analyst", "cora", "user name"),
     ("violet kettle 9", "admin", "cora", "an admin's password must have 16 to 1024 characters"),
     ("short", "caseworker", "cora", "the password must have 12 to 1024 characters")],
)  # fmt: skip
def test_weak_passwords_are_refused(password, role, name, message):
    from dialectid.web.passwords import PasswordError, check_new_password

    with pytest.raises(PasswordError, match=message):
        check_new_password(password, role, name)


def test_good_passwords_pass_and_the_web_and_cli_apply_the_rules(world, app, tmp_path, monkeypatch):
    from dialectid.web.passwords import check_new_password

    check_new_password("violet kettle 9", "caseworker", "cora")
    check_new_password("violet kettle in the rain", "admin", "ada")
    adam = browser(app, "192.0.2.13", "adam")
    token = page_csrf(adam)
    for password, message in ((" " * 16, "only white space"), ("\x00" * 16, "control characters"),
                              ("violet kettle 9", "an admin's password must have 16")):  # fmt: skip
        answer = adam.post("/api/users", json={"name": "weak-admin", "role": "admin", "password": password},
                           headers={"X-CSRF-Token": token})  # fmt: skip
        assert answer.status_code == 400 and message in answer.json()["detail"], answer.text
    from dialectid.cli import app as cli

    monkeypatch.setenv("DIALECTID_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DIALECTID_DATABASE_URL", raising=False)
    with cheap_passwords():
        refused = CliRunner().invoke(cli, ["users", "add", "root", "--role", "admin"], input="\x00" * 20 + "\n")
        assert refused.exit_code == 2 and "control characters" in refused.stderr, refused.output
        added = CliRunner().invoke(cli, ["users", "add", "root", "--role", "admin"], input="violet kettles in rain\n")
        assert added.exit_code == 0, added.output
        weak = CliRunner().invoke(cli, ["users", "set-password", "root"], input="violet kettle 9\n")
        assert weak.exit_code == 2 and "an admin's password must have 16" in weak.stderr, weak.output


# ---- 14. small compressed uploads that cost minutes of analysis ----------------------------------------
def upload(client, case: str, token: str, path):
    return client.post(f"/api/cases/{case}/recordings", headers={"X-CSRF-Token": token},
                       files={"recording": (path.name, path.read_bytes(), "audio/flac")})  # fmt: skip


def test_recordings_too_long_or_at_absurd_rates_are_refused_from_their_header(world, app, tmp_path):
    long = tmp_path / "three-hours.flac"
    with sf.SoundFile(long, "w", 8000, 1, format="FLAC", subtype="PCM_16") as stream:
        for _ in range(180):  # three hours of silence: a few hundred KB
            stream.write(np.zeros(8000 * 60, dtype=np.int16))
    fast = tmp_path / "fast.flac"
    sf.write(fast, (np.random.default_rng(0).standard_normal(384_000) * 3000).astype(np.int16), 384_000, format="FLAC")
    anna = browser(app, "192.0.2.14", "anna")
    token, case = page_csrf(anna), world.cases["colin"]
    recordings = len(world.store.show(case, "test").recordings)
    began = time.perf_counter()
    too_long = upload(anna, case, token, long)
    assert too_long.status_code == 422, too_long.text
    assert "lasts 180.0 min" in too_long.json()["detail"] and "up to 120 min" in too_long.json()["detail"]
    assert time.perf_counter() - began < 5.0
    too_fast = upload(anna, case, token, fast)
    assert too_fast.status_code == 422 and "sample rate of 384000 Hz" in too_fast.json()["detail"], too_fast.text
    assert len(world.store.show(case, "test").recordings) == recordings
    assert no_spooled_uploads(world)


def test_uploads_per_minute_are_limited_per_user(world):
    app = make_app(world, uploads_per_minute=3)
    anna = browser(app, "192.0.2.15", "anna")
    token, case = page_csrf(anna), world.cases["colin"]
    for _ in range(3):  # refused as not audio, but each costs the server a spooled body and a look
        answer = anna.post(f"/api/cases/{case}/recordings", headers={"X-CSRF-Token": token},
                           files={"recording": ("x.wav", b"not audio " * 500)})  # fmt: skip
        assert answer.status_code == 415
    limited = anna.post(f"/api/cases/{case}/recordings", headers={"X-CSRF-Token": token},
                        files={"recording": ("x.wav", b"not audio " * 500)})  # fmt: skip
    assert limited.status_code == 429 and "uploads in the last minute" in limited.json()["detail"]
    assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_recordings_waiting_for_analysis_are_limited_per_user(world, tmp_path, monkeypatch):
    import dialectid.casefile.workflow as workflow

    release, original = threading.Event(), workflow.analyse_case

    def held_back(*args, **kwargs):  # keeps the uploads waiting until the test lets them go
        release.wait(timeout=60)
        return original(*args, **kwargs)

    monkeypatch.setattr(workflow, "analyse_case", held_back)
    app = make_app(world, queued_uploads=2)
    anna = browser(app, "192.0.2.16", "anna")
    token, case = page_csrf(anna), world.cases["colin"]
    files = [write(tmp_path / f"{seed}.wav", speechlike(3.0, 16000, seed=seed), 16000, "wav_pcm16")
             for seed in (31, 32, 33)]  # fmt: skip
    jobs = []
    try:
        for path in files[:2]:
            answer = upload(anna, case, token, path)
            assert answer.status_code == 202, answer.text
            jobs.append(answer.json()["job"]["id"])
        waiting = upload(anna, case, token, files[2])
        assert waiting.status_code == 429 and "waiting for their analysis" in waiting.json()["detail"]
    finally:
        release.set()
    for job in jobs:
        wait_for_job(anna, job)
    accepted = upload(anna, case, token, files[2])
    assert accepted.status_code == 202, accepted.text
    wait_for_job(anna, accepted.json()["job"]["id"])


# ---- 16. behind a TLS proxy ---------------------------------------------------------------------------
def test_behind_a_proxy_cookies_are_secure_and_the_forwarded_address_is_the_client(world):
    proxied = make_app(world, behind_proxy=True)
    local = browser(proxied, "127.0.0.1")  # the proxy on this machine
    login = local.post("/api/session", json={"name": "anna", "password": PASSWORD},
                       headers={"X-Forwarded-For": "198.51.100.77"})  # fmt: skip
    assert login.status_code == 200 and "Secure" in login.headers["set-cookie"]
    assert login.headers["strict-transport-security"] == "max-age=31536000"
    attacker = {"X-Forwarded-For": "192.0.2.200, 203.0.113.50"}  # the proxy appends the address it saw
    statuses = [local.post("/api/session", json={"name": "colin", "password": "a guess"}, headers=attacker).status_code
                for _ in range(5)]  # fmt: skip
    assert statuses[-1] == 429
    assert local.post("/api/session", json={"name": "colin", "password": "a guess"},
                      headers={"X-Forwarded-For": "192.0.2.201, 203.0.113.50"}).status_code == 429  # fmt: skip
    assert local.post("/api/session", json={"name": "colin", "password": PASSWORD},
                      headers={"X-Forwarded-For": "203.0.113.51"}).status_code == 200  # fmt: skip
    direct = browser(make_app(world), "192.0.2.77")  # not behind a proxy: X-Forwarded-For is anyone's to write
    statuses = [direct.post("/api/session", json={"name": "colin", "password": "a guess"},
                            headers={"X-Forwarded-For": f"203.0.113.{60 + i}"}).status_code for i in range(5)]  # fmt: skip
    assert statuses[-1] == 429
    plain = direct.post("/api/session", json={"name": "anna", "password": PASSWORD})
    assert "Secure" not in plain.headers["set-cookie"] and "strict-transport-security" not in plain.headers


# ---- 17. answers that name what they should not ------------------------------------------------------------
def test_another_cases_job_answers_the_same_404_as_no_job(world, app):
    anna, carla = browser(app, "192.0.2.17", "anna"), browser(app, "192.0.2.18", "carla")
    other = world.cases["colin"]
    job = anna.post(f"/api/cases/{other}/analyses", headers={"X-CSRF-Token": page_csrf(anna)})
    assert job.status_code == 202
    answer, missing = carla.get(f"/api/jobs/{job.json()['id']}"), carla.get("/api/jobs/no-such-job")
    assert answer.status_code == missing.status_code == 404 and answer.json() == missing.json()
    assert other not in answer.text
    wait_for_job(anna, job.json()["id"])


def test_only_admins_read_the_openapi_document(app):
    assert browser(app).get("/api/openapi.json").status_code == 401
    for name in ("carla", "anna"):
        assert browser(app, "192.0.2.19", name).get("/api/openapi.json").status_code == 403
    document = browser(app, "192.0.2.19", "adam").get("/api/openapi.json").json()
    assert "/api/users" in document["paths"]
