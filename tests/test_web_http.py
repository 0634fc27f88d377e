"""The web view over HTTP: authentication, each role's rights, case isolation, CSRF, uploads,
security headers, audit of every view, and no identity data in URLs, logs or the audit log."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from audiofactory import speechlike, write
from dialectid.casefile.summaries import to_json
from dialectid.web import WebSettings, create_app
from dialectid.web.app import ROUTERS
from dialectid.web.sessions import SESSION_COOKIE
from webapp import IDENTITY, PASSWORD, csrf_in, log_in, page_csrf, remove_guards, wait_for_job, world_of

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/api/session")}


@pytest.fixture(scope="module")
def world(tmp_path_factory, stats_bundle, toy_corpus):
    with world_of(tmp_path_factory.mktemp("web"), stats_bundle, toy_corpus) as made:
        yield made


@pytest.fixture(scope="module")
def app(world):
    # The upload quotas would stop this module's many uploads; test_web_abuse tests them.
    return create_app(world.store, world.bundle, WebSettings(uploads_per_minute=1000, queued_uploads=1000))


@pytest.fixture
def client(app):
    """A fresh browser: `client(name)` logs in as that user."""
    made = []

    def as_user(name: str | None = None, target=None) -> TestClient:
        browser = TestClient(target or app, follow_redirects=False)
        made.append(browser)
        if name:
            log_in(browser, name)
        return browser

    yield as_user
    for browser in made:
        browser.close()


def fill(text: str, world, who: str = "") -> str:
    """Put carla's case, analysis and recording (and the acting user) into a route or a body value."""
    case = world.cases["carla"]
    sha = world.store.show(case, "test").recordings[0].sha256
    return text.format(reference=case, number=world.numbers["carla"], sha256=sha, job_id="no-such-job", name="carla",
                       who=who)  # fmt: skip


def routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route the app was built with (the routers it includes)."""
    return sorted((method, route.path) for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)
                  for method in route.methods)  # fmt: skip


def actions(world, reference=None) -> list[str]:
    return [e.action for e in world.store.events(reference)]


# ---- authentication --------------------------------------------------------------------------------
def test_every_route_refuses_anonymous_and_forged_sessions(app, world, client):
    checked = 0
    for method, path in routes(app):
        if (method, path) in PUBLIC:
            continue
        for browser in (client(), client()):
            if checked % 2:
                browser.cookies.set(SESSION_COOKIE, "forged.value.signature")
            answer = browser.request(method, fill(path, world))
            checked += 1
            if path.startswith("/api/"):
                assert answer.status_code == 401, (method, path, answer.text)
                assert answer.json()["detail"] in ("log in first", "your session has ended; log in again")
            else:
                assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=/"), (
                    method,
                    path,
                )
    assert checked >= 2 * 30  # every page and API route was tried


def test_login_sets_a_strict_httponly_expiring_cookie_and_logout_ends_the_session(client, app):
    browser = client()
    answer = log_in(browser, "carla")
    cookie = answer.headers["set-cookie"]
    assert (
        f"{SESSION_COOKIE}=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
    )
    assert "Max-Age=28800" in cookie
    stolen = browser.cookies.get(SESSION_COOKIE)
    assert browser.post("/logout", data={"csrf_token": page_csrf(browser)}).status_code == 303
    replay = client()
    replay.cookies.set(SESSION_COOKIE, stolen)
    assert replay.get("/api/cases").status_code == 401  # the server ended it, not only the browser


def test_wrong_passwords_make_that_client_wait_and_lock_nobody_out(app, client, world):
    browser = TestClient(app, client=("203.0.113.9", 40000), follow_redirects=False)  # an address of its own
    for _ in range(3):
        form = browser.get("/login")
        answer = browser.post(
            "/login", data={"name": "colin", "password": "wrong password!", "csrf_token": csrf_in(form.text)}
        )
        assert answer.status_code == 400 and "wrong user name or password" in answer.text
    form = browser.get("/login")
    answer = browser.post("/login", data={"name": "colin", "password": PASSWORD, "csrf_token": csrf_in(form.text)})
    assert answer.status_code == 429 and "too many failed logins from your address; try again in" in answer.text
    assert answer.headers["retry-after"].isdigit() and SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    unknown = client().post("/api/session", json={"name": "nobody", "password": PASSWORD})
    assert unknown.status_code == 400 and unknown.json() == {"detail": "wrong user name or password"}
    assert client().post("/api/session", json={"name": "colin", "password": PASSWORD}).status_code == 200
    assert "login failed" in actions(world) and "account locked" not in actions(world)


def test_login_form_needs_its_csrf_token(client):
    browser = client()
    browser.get("/login")
    for token in (None, "0" * 64):
        data = {"name": "carla", "password": PASSWORD} | ({"csrf_token": token} if token else {})
        answer = browser.post("/login", data=data)
        assert answer.status_code == 403 and "CSRF token missing or wrong" in answer.text
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_login_redirects_only_within_the_site(client):
    browser = client()
    form = browser.get("/login?next=//evil.example/")
    answer = browser.post("/login", data={"name": "carla", "password": PASSWORD, "csrf_token": csrf_in(form.text),
                                          "next": "//evil.example/"})  # fmt: skip
    assert answer.headers["location"] == "/cases"


# ---- authorisation ---------------------------------------------------------------------------------
# (method, path, body, expected status for carla (caseworker), anna (analyst), adam (admin))
API_RIGHTS = [
    ("GET", "/api/cases", None, (200, 200, 200)),
    ("GET", "/api/session", None, (200, 200, 200)),
    ("GET", "/api/openapi.json", None, (403, 403, 200)),
    ("GET", "/api/cases/{reference}", None, (200, 200, 200)),
    ("GET", "/api/cases/{reference}/audit", None, (200, 200, 200)),
    ("GET", "/api/cases/{reference}/reports/{number}", None, (200, 200, 200)),
    ("GET", "/api/cases/{reference}/reports/{number}/pdf", None, (200, 200, 200)),
    ("GET", "/api/cases/{reference}/recordings/{sha256}", None, (200, 200, 200)),
    (
        "POST",
        "/api/cases/{reference}/feedback",
        {"registration_number": "{number}", "agreement": "agree"},
        (204, 403, 403),
    ),
    ("POST", "/api/cases/{reference}/analyses", None, (403, 202, 403)),
    ("POST", "/api/cases/{reference}/recordings", None, (403, None, 403)),  # analysts: the upload tests
    ("GET", "/api/users", None, (403, 403, 200)),
    ("POST", "/api/users", {"name": "new-{who}", "role": "caseworker", "password": PASSWORD}, (403, 403, 201)),
    ("PATCH", "/api/users/{name}", {"active": "true"}, (403, 403, 200)),
    ("PUT", "/api/cases/{reference}/assignment", {"assignee": "carla"}, (403, 403, 204)),
    ("GET", "/api/agreement", None, (403, 403, 200)),
]
PAGE_RIGHTS = [
    ("GET", "/", None, (303, 303, 303)),
    ("GET", "/walkthrough", None, (200, 200, 200)),
    ("GET", "/cases-new", None, (403, 200, 200)),
    ("POST", "/cases-new", {"name": "Test Person {who}", "date_of_birth": "1990-01-01"}, (403, 303, 303)),
    ("POST", "/cases/{reference}/status", {"status": "open"}, (403, 303, 303)),
    ("POST", "/cases/{reference}/assignee", {"assignee": "carla"}, (403, 303, 303)),
    ("GET", "/cases", None, (200, 200, 200)),
    ("POST", "/cases", {"q": "C-", "status": "open"}, (200, 200, 200)),
    ("GET", "/cases/{reference}", None, (200, 200, 200)),
    ("GET", "/cases/{reference}/audit", None, (200, 200, 200)),
    ("GET", "/cases/{reference}/reports/{number}", None, (200, 200, 200)),
    ("GET", "/cases/{reference}/reports/{number}/pdf", None, (200, 200, 200)),
    ("GET", "/cases/{reference}/recordings/{sha256}", None, (200, 200, 200)),
    ("GET", "/cases/{reference}/recordings/{sha256}/playable", None, (200, 200, 200)),
    (
        "POST",
        "/cases/{reference}/feedback",
        {"registration_number": "{number}", "agreement": "unsure"},
        (303, 403, 403),
    ),
    ("POST", "/cases/{reference}/analyses", {}, (403, 303, 403)),
    ("POST", "/cases/{reference}/recordings", {}, (403, None, 403)),
    ("GET", "/admin/users", None, (403, 403, 200)),
    ("POST", "/admin/users", {"name": "page-{who}", "role": "analyst", "password": PASSWORD}, (403, 403, 303)),
    ("POST", "/admin/users/{name}/active", {"active": "true"}, (403, 403, 303)),
    ("GET", "/admin/cases", None, (403, 403, 200)),
    ("POST", "/admin/cases/{reference}/assignment", {"assignee": "carla"}, (403, 403, 303)),
    ("GET", "/admin/agreement", None, (403, 403, 200)),
]


def test_the_rights_tables_cover_every_route(app):
    tabled = {(method, path) for method, path, _, _ in API_RIGHTS + PAGE_RIGHTS}
    elsewhere = {("POST", "/logout"), ("DELETE", "/api/session"), ("GET", "/api/jobs/{job_id}")}  # own tests
    assert set(routes(app)) - PUBLIC - elsewhere == tabled


@pytest.mark.parametrize("who", ["carla", "anna", "adam"])
def test_each_role_may_do_exactly_what_it_should(who, world, client):
    browser = client(who)
    token = page_csrf(browser)
    column = ["carla", "anna", "adam"].index(who)
    for method, path, body, expected in API_RIGHTS + PAGE_RIGHTS:
        if expected[column] is None:
            continue
        url = fill(path, world)
        body = None if body is None else {key: fill(value, world, who) for key, value in body.items()}
        if path.startswith("/api/"):
            answer = browser.request(method, url, json=body, headers={"X-CSRF-Token": token})
        else:
            answer = browser.request(method, url, data=None if body is None else {**body, "csrf_token": token})
        assert answer.status_code == expected[column], (who, method, path, answer.text[-300:])
    denied = [e for e in world.store.events() if e.action == "access denied" and e.actor == who]
    assert (who == "adam") != any(e.details["path"] == "/admin/users" for e in denied)  # refusals are audited


def test_a_caseworker_swapping_the_case_id_sees_nothing_and_is_audited(world, client):
    browser = client("carla")
    token = page_csrf(browser)
    other = world.cases["colin"]
    other_pseudonym = world.store.show(other, "test").pseudonym
    sha = world.store.show(other, "test").recordings[0].sha256
    number = world.numbers["colin"]
    before = len([e for e in world.store.events(other) if e.action == "access denied"])
    attempts = [("GET", f"/cases/{other}"), ("GET", f"/cases/{other}/audit"), ("GET", f"/cases/{other}/reports/{number}"),
                ("GET", f"/cases/{other}/reports/{number}/pdf"), ("GET", f"/cases/{other}/recordings/{sha}"),
                ("GET", f"/cases/{other}/recordings/{sha}/playable"),
                ("GET", f"/api/cases/{other}"), ("GET", f"/api/cases/{other}/audit"),
                ("GET", f"/api/cases/{other}/reports/{number}"), ("GET", f"/api/cases/{other}/recordings/{sha}")]  # fmt: skip
    for method, url in attempts:
        answer = browser.request(method, url)
        assert answer.status_code == 404, url
        assert other_pseudonym not in answer.text and number not in answer.text
        assert "among the cases you may see" in answer.text
    posted = browser.post(f"/cases/{other}/feedback", data={"registration_number": number, "agreement": "disagree",
                                                            "csrf_token": token})  # fmt: skip
    assert posted.status_code == 404
    # a number from another case under the caseworker's own reference is refused too
    mine = world.cases["carla"]
    crossed = browser.post(f"/api/cases/{mine}/feedback", json={"registration_number": number, "agreement": "agree"},
                           headers={"X-CSRF-Token": token})  # fmt: skip
    assert crossed.status_code == 404
    denied = [e for e in world.store.events(other) if e.action == "access denied"]
    assert len(denied) - before == len(attempts) + 1
    assert {e.actor for e in denied[before:]} == {"carla"}
    assert all(e.details["reason"] == "not assigned to this user" for e in denied[before:])
    assert world.store.show(other, "test").recordings[0].analyses[0].feedback == []
    unknown = browser.get("/cases/C-2000-FFFFFF")
    assert unknown.status_code == 404 and "among the cases you may see" in unknown.text  # same answer as someone else's


def test_a_caseworker_lists_and_searches_only_their_cases(world, client):
    browser = client("carla")
    mine, other = world.cases["carla"], world.cases["colin"]
    listed = browser.get("/api/cases").json()
    assert [c["reference"] for c in listed] == [mine]
    assert browser.get(f"/api/cases?q={other}").json() == []
    assert [c["reference"] for c in browser.get(f"/api/cases?q={mine[-6:].lower()}&status=open").json()] == [mine]
    assert browser.get("/api/cases?status=closed").json() == []
    token = page_csrf(browser)
    found = browser.post("/cases", data={"q": mine[-6:].lower(), "status": "open", "csrf_token": token})
    assert found.status_code == 200 and f"/cases/{mine}" in found.text
    assert f"/cases/{other}" not in browser.post("/cases", data={"q": other, "csrf_token": token}).text
    everything = client("anna").get("/api/cases").json()
    assert {c["reference"] for c in everything} >= {mine, other}


# ---- CSRF ------------------------------------------------------------------------------------------
def test_forms_and_api_calls_without_the_right_csrf_token_change_nothing(world, client):
    carla, anna, adam, colin = client("carla"), client("anna"), client("adam"), client("colin")
    case, number = world.cases["carla"], world.numbers["carla"]
    others_token = page_csrf(colin)  # a valid token, but of another session
    forms = [(carla, f"/cases/{case}/feedback", {"registration_number": number, "agreement": "agree"}),
             (anna, f"/cases/{case}/analyses", {}), (carla, "/logout", {}),
             (adam, "/admin/users", {"name": "csrf-victim", "role": "admin", "password": PASSWORD}),
             (adam, "/admin/users/carla/active", {"active": "false"}),
             (adam, f"/admin/cases/{case}/assignment", {"assignee": ""})]  # fmt: skip
    feedback_before = len(world.store.show(case, "test").recordings[0].analyses[0].feedback)
    for browser, url, data in forms:
        for token in (None, "f" * 64, others_token):
            answer = browser.post(url, data=data | ({"csrf_token": token} if token else {}))
            assert answer.status_code == 403 and "CSRF token missing or wrong" in answer.text, (url, token)
    upload = anna.post(f"/cases/{case}/recordings", files={"recording": ("a.wav", world.recordings[2].read_bytes())})
    assert upload.status_code == 403
    for headers in ({}, {"X-CSRF-Token": "f" * 64}, {"X-CSRF-Token": others_token}):
        answer = carla.post(f"/api/cases/{case}/feedback", json={"registration_number": number, "agreement": "agree"},
                            headers=headers)  # fmt: skip
        assert answer.status_code == 403
    assert len(world.store.show(case, "test").recordings[0].analyses[0].feedback) == feedback_before
    assert world.store.assignee(case) is not None and "csrf-victim" not in json.dumps(adam.get("/api/users").json())
    assert carla.get("/api/session").status_code == 200  # the refused logout left the session alone


def test_the_json_login_refuses_a_cross_site_form_body(client):
    answer = client().post(
        "/api/session",
        content=json.dumps({"name": "carla", "password": PASSWORD}),
        headers={"Content-Type": "text/plain"},
    )  # what a cross-site form can send
    assert answer.status_code == 422 and SESSION_COOKIE not in answer.headers.get("set-cookie", "")


# ---- uploads -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_app(world):
    return create_app(world.store, world.bundle, WebSettings(upload_limit_mb=0.05))


def multipart(token: str, name: str, content: bytes, boundary: str = "b0undary") -> bytes:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'.encode(),
             f'--{boundary}\r\nContent-Disposition: form-data; name="recording"; filename="{name}"\r\n'
             f"Content-Type: audio/wav\r\n\r\n".encode() + content + b"\r\n", f"--{boundary}--\r\n".encode()]  # fmt: skip
    return b"".join(parts)


def test_oversized_uploads_are_refused_with_a_clear_message(world, client, small_app):
    browser = client("anna", target=small_app)
    token, case = page_csrf(browser), world.cases["carla"]
    message = "the upload is larger than the limit of 0.05 MB"
    declared = browser.post(f"/cases/{case}/recordings", data={"csrf_token": token},
                            files={"recording": ("big.wav", b"RIFF" + bytes(200_000))})  # fmt: skip
    assert declared.status_code == 413 and message in declared.text
    assert declared.headers["connection"] == "close"  # refused from its Content-Length, before it was read
    body = multipart(token, "big.wav", b"RIFF" + bytes(200_000))
    streamed = browser.post(f"/api/cases/{case}/recordings", headers={"X-CSRF-Token": token,
                            "Content-Type": "multipart/form-data; boundary=b0undary"},
                            content=(body[i : i + 8192] for i in range(0, len(body), 8192)))  # fmt: skip
    assert streamed.status_code == 413 and streamed.json()["detail"].startswith(message)
    just_over = browser.post(f"/api/cases/{case}/recordings", headers={"X-CSRF-Token": token},
                             files={"recording": ("x.wav", bytes(60_000))})  # passes the framing allowance  # fmt: skip
    assert just_over.status_code == 413 and just_over.json()["detail"].startswith(message)
    assert not any((world.store.root / "uploads").iterdir())
    long_form = browser.post(f"/cases/{case}/feedback", data={"csrf_token": token, "comment": "x" * 100_000,
                                                              "registration_number": "n", "agreement": "agree"})  # fmt: skip
    assert long_form.status_code == 413 and "the request is larger than 64 KB" in long_form.text
    form_body = f"csrf_token={token}&registration_number=n&agreement=agree&comment={'x' * 100_000}".encode()
    streamed_form = browser.post(f"/cases/{case}/feedback", headers={"Content-Type": "application/x-www-form-urlencoded"},
                                 content=(form_body[i : i + 8192] for i in range(0, len(form_body), 8192)))  # fmt: skip
    assert streamed_form.status_code == 413 and "the request is larger than 64 KB" in streamed_form.text


def test_non_audio_uploads_are_refused_by_their_content(world, client, tmp_path):
    browser = client("anna")
    token, case = page_csrf(browser), world.cases["carla"]
    recordings_before = len(world.store.show(case, "test").recordings)
    for name, content in (("notes.wav", b"just some text, not audio " * 100), ("page.mp3", b"<html><script>x</script>" * 50),
                          ("image.flac", b"\x89PNG\r\n\x1a\n" + bytes(3000))):  # fmt: skip
        answer = browser.post(f"/cases/{case}/recordings", data={"csrf_token": token},
                              files={"recording": (name, content, "audio/wav")})  # fmt: skip
        assert answer.status_code == 415 and "the upload is not a recording dialectid can use" in answer.text
        assert "Traceback" not in answer.text and str(world.store.root) not in answer.text
    empty = browser.post(f"/api/cases/{case}/recordings", headers={"X-CSRF-Token": token},
                         files={"recording": ("empty.wav", b"")})  # fmt: skip
    assert empty.status_code == 400 and empty.json()["detail"] == "the upload is empty; choose a recording to upload"
    assert len(world.store.show(case, "test").recordings) == recordings_before
    assert not any((world.store.root / "uploads").iterdir())


def test_upload_file_names_are_never_used(world, client, tmp_path):
    browser = client("anna")
    token, case = page_csrf(browser), world.cases["colin"]
    names = ["../../../../../../tmp/evil.wav", "..\\..\\evil.wav", "/etc/passwd", "C:\\Windows\\win.ini"]
    for seed, name in enumerate(names, start=10):
        audio = write(tmp_path / f"{seed}.wav", speechlike(4.0, 16000, seed=seed), 16000, "wav_pcm16").read_bytes()
        answer = browser.post(f"/api/cases/{case}/recordings", headers={"X-CSRF-Token": token},
                              files={"recording": (name, audio, "audio/wav")})  # fmt: skip
        assert answer.status_code == 202, answer.text
        stored = world.store.recordings.path(answer.json()["sha256"])
        assert stored.read_bytes() == audio and stored.parent.parent == world.store.recordings.folder
        wait_for_job(browser, answer.json()["job"]["id"])
    everything = [p.name for p in world.store.root.rglob("*")] + [p.name for p in tmp_path.parent.rglob("*")]
    assert not {"evil.wav", "passwd", "win.ini"} & set(everything)
    dump = database_dump(world.store)
    assert "evil" not in dump and "passwd" not in dump and "win.ini" not in dump


def database_dump(store) -> str:
    from dialectid.casefile.schema import Base

    with store.engine.connect() as connection:
        return json.dumps([list(map(str, row)) for table in Base.metadata.sorted_tables
                           for row in connection.execute(sa.select(table)).all()])  # fmt: skip


def test_an_analyst_upload_is_analysed_in_the_background(world, client, tmp_path):
    browser = client("anna")
    token, case = page_csrf(browser), world.cases["colin"]
    audio = world.recordings[2].read_bytes()
    answer = browser.post(f"/cases/{case}/recordings", data={"csrf_token": token, "recorded_by": "officer 7"},
                          files={"recording": ("call.wav", audio, "audio/wav")})  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == f"/cases/{case}?done=upload"
    page = browser.get(answer.headers["location"]).text
    job = browser.get(f"/api/cases/{case}").json()["jobs"][0]
    assert job["started_by"] == "anna"
    if not job["finished"]:  # the page shows the progress and the script that follows it
        assert 'id="analysis-progress"' in page and "/static/progress.js" in page
    done = wait_for_job(browser, job["id"])
    assert done["state"] == "done" and done["message"] == "1 analysed, 1 reports attached" and done["total"] == 1
    shown = browser.get(f"/api/cases/{case}").json()
    analysis = next(a for r in shown["recordings"] if r["recorded_by"] == "officer 7" for a in r["analyses"])
    assert analysis["registration_number"] == done["analysed"][0] and analysis["signature"]["valid"]
    again = browser.post(f"/api/cases/{case}/recordings", headers={"X-CSRF-Token": token},
                         files={"recording": ("again.wav", audio)})  # fmt: skip
    assert (
        again.status_code == 400 and again.json()["detail"] == f"the upload: this recording is already in case {case}"
    )
    assert "Last analysis finished: 1 analysed" in browser.get(f"/cases/{case}").text
    assert client("carla").get(f"/api/jobs/{job['id']}").status_code == 404  # colin's case: not carla's business


# ---- what pages show, and the audit of every view ------------------------------------------------------
def test_the_case_page_shows_the_analysis_report_and_signature(world, client):
    browser = client("carla")
    case, number = world.cases["carla"], world.numbers["carla"]
    shown = world.store.show(case, "test")
    analysis = shown.recordings[0].analyses[0]
    page = browser.get(f"/cases/{case}").text
    for text in (shown.pseudonym, number, analysis.top_label, "Signature: valid: signed", "<svg class=\"chart\"",
                 f'src="/cases/{case}/recordings/{shown.recordings[0].sha256}"', f"/reports/{number}/pdf",
                 "pdf?download=true", 'class="report"', "not evidence", "Save feedback"):  # fmt: skip
        assert text in page, text
    pdf = browser.get(f"/cases/{case}/reports/{number}/pdf?download=true")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == f'attachment; filename="{number}.pdf"'
    report = browser.get(f"/api/cases/{case}/reports/{number}").json()
    assert report["report"]["registration_number"] == number and report["signature"]["valid"]
    assert report["report"]["model"]["Model"].startswith("toy-stats-logreg")  # the facts stored with the report
    audio = browser.get(f"/cases/{case}/recordings/{shown.recordings[0].sha256}", headers={"Range": "bytes=0-99"})
    assert audio.status_code == 206 and audio.headers["content-type"] == "audio/wav" and len(audio.content) == 100


def test_every_view_of_a_case_is_audited(world, client):
    browser = client("carla")
    case, number = world.cases["carla"], world.numbers["carla"]
    sha = world.store.show(case, "test").recordings[0].sha256
    views = {f"/cases/{case}": "viewed", f"/api/cases/{case}": "viewed", f"/cases/{case}/audit": "audit trail viewed",
             f"/cases/{case}/reports/{number}": "report viewed", f"/cases/{case}/reports/{number}/pdf": "report viewed",
             f"/cases/{case}/reports/{number}/pdf?download=1": "report downloaded",
             f"/cases/{case}/recordings/{sha}": "recording played",
             f"/cases/{case}/recordings/{sha}/playable": "recording played"}  # fmt: skip
    for url, action in views.items():
        before = len(world.store.events(case))
        assert browser.get(url).status_code == 200
        new = world.store.events(case)[before:]
        assert action in [e.action for e in new] and {e.actor for e in new} == {"carla"}, url
    before = len(world.store.events(case))
    browser.get(f"/cases/{case}/recordings/{sha}", headers={"Range": "bytes=1000-1999"})  # the player's next range
    assert len(world.store.events(case)) == before


def test_feedback_is_stored_audited_and_summarised_per_model(world, client):
    carla, adam = client("carla"), client("adam")
    case, number = world.cases["carla"], world.numbers["carla"]
    answer = carla.post(f"/cases/{case}/feedback", data={"registration_number": number, "agreement": "disagree",
                        "linguist_outcome": "linguist: Levantine", "comment": "does not match the interview",
                        "csrf_token": page_csrf(carla)})  # fmt: skip
    assert answer.status_code == 303
    page = carla.get(answer.headers["location"]).text
    assert "Your feedback was saved" in page and "disagrees with the result" in page and "linguist: Levantine" in page
    event = [e for e in world.store.events(case) if e.action == "feedback given"][-1]
    assert event.actor == "carla" and {k: event.details[k] for k in ("registration_number", "agrees")} == {
        "registration_number": number, "agrees": False}  # fmt: skip
    logged = json.dumps(to_json(event))
    assert "Levantine" not in logged and "interview" not in logged  # free text: a digest only
    trail = carla.get(f"/cases/{case}/audit").text
    assert f"carla gave feedback on analysis {number}: disagrees with the result" in trail
    bad = carla.post(f"/cases/{case}/feedback", data={"registration_number": number, "agreement": "maybe",
                                                      "csrf_token": page_csrf(carla)})  # fmt: skip
    assert bad.status_code == 400 and "agreement must be one of: agree, disagree, unsure" in bad.text
    summary = {m["model"]: m for m in adam.get("/api/agreement").json()}["toy-stats-logreg"]
    assert (
        summary["disagree"] >= 1
        and summary["feedback"] == summary["agree"] + summary["disagree"] + summary["no_opinion"]
    )
    assert summary["agreement"] == summary["agree"] / (summary["agree"] + summary["disagree"])
    assert "toy-stats-logreg" in adam.get("/admin/agreement").text


def test_a_tampered_report_shows_as_not_valid(world, client, tmp_path):
    carla = client("carla")
    case, number = world.cases["carla"], world.numbers["carla"]
    query = sa.text("SELECT reports.id, pdf FROM reports JOIN analyses ON analyses.id = reports.analysis_id "
                    "WHERE registration_number = :n")  # fmt: skip
    change = sa.text("UPDATE reports SET pdf = :pdf WHERE id = :id")
    remove_guards(world.store)  # the database refuses it otherwise
    with world.store.engine.begin() as connection:
        report_id, pdf = connection.execute(query, {"n": number}).one()
        altered = bytearray(pdf)
        altered[len(altered) // 3] ^= 0x20
        connection.execute(change, {"pdf": bytes(altered), "id": report_id})
    try:
        signature = carla.get(f"/api/cases/{case}/reports/{number}").json()["signature"]
        assert not signature["valid"] and "the report was altered" in signature["message"]
        assert "Signature: NOT VALID" in carla.get(f"/cases/{case}").text
    finally:
        with world.store.engine.begin() as connection:
            connection.execute(change, {"pdf": pdf, "id": report_id})


def test_admins_manage_users_and_assignments(world, client):
    adam = client("adam")
    token = page_csrf(adam)
    case = world.cases["colin"]
    assert adam.post("/admin/users", data={"name": "cora", "role": "caseworker", "password": PASSWORD,
                                           "csrf_token": token}).status_code == 303  # fmt: skip
    short = adam.post("/admin/users", data={"name": "cody", "role": "caseworker", "password": "short",
                                            "csrf_token": token})  # fmt: skip
    assert short.status_code == 400 and "the password must have 12 to 1024 characters" in short.text
    duplicate = adam.post("/api/users", json={"name": "cora", "role": "admin", "password": PASSWORD},
                          headers={"X-CSRF-Token": token})  # fmt: skip
    assert duplicate.status_code == 400 and duplicate.json()["detail"] == "user 'cora' already exists"
    assert (
        adam.post(f"/admin/cases/{case}/assignment", data={"assignee": "cora", "csrf_token": token}).status_code == 303
    )
    cora = client("cora")
    assert [c["reference"] for c in cora.get("/api/cases").json()] == [case]
    assert client("colin").get(f"/api/cases/{case}").status_code == 404  # no longer colin's
    refused = adam.put(f"/api/cases/{case}/assignment", json={"assignee": "anna"}, headers={"X-CSRF-Token": token})
    assert refused.status_code == 400 and "is not an active caseworker" in refused.json()["detail"]
    assert (
        adam.patch("/api/users/cora", json={"active": False}, headers={"X-CSRF-Token": token}).json()["active"] is False
    )
    assert cora.get("/api/cases").status_code == 401  # deactivation ends open sessions
    assert adam.patch("/api/users/adam", json={"active": False}, headers={"X-CSRF-Token": token}).status_code == 400
    assert adam.put(f"/api/cases/{case}/assignment", json={"assignee": "colin"},
                    headers={"X-CSRF-Token": token}).status_code == 204  # fmt: skip
    page = adam.get("/admin/users").text
    assert "cora" in page and "Activate" in page
    assert {"user added", "case assigned", "user deactivated"} <= set(actions(world))


# ---- headers, errors, identity, the API document -----------------------------------------------------------
def test_security_headers_on_every_kind_of_response(world, client):
    carla = client("carla")
    for browser, url in ((carla, f"/cases/{world.cases['carla']}"), (carla, "/api/cases"), (client(), "/login"),
                         (carla, "/no/such/page"), (client(), "/static/style.css"), (client(), "/api/cases")):  # fmt: skip
        headers = browser.get(url).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'self'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp, url
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "SAMEORIGIN"
        assert headers["referrer-policy"] == "no-referrer"
        if not url.startswith("/static/"):
            assert headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in headers  # plain HTTP here: only behind TLS
    behind_tls = TestClient(create_app(world.store, world.bundle, WebSettings(secure_cookies=True)))
    login = behind_tls.get("/login")
    assert login.headers["strict-transport-security"] == "max-age=31536000" and "Secure" in login.headers["set-cookie"]


def test_errors_are_one_clear_line_never_a_traceback(world, client, app, monkeypatch):
    carla = client("carla")
    assert carla.get("/no/such/page").status_code == 404 and "no such page" in carla.get("/no/such/page").text
    assert carla.put("/api/cases").json() == {"detail": "this address does not accept that method"}
    invalid = carla.post(f"/api/cases/{world.cases['carla']}/feedback", json={"agreement": "agree"},
                         headers={"X-CSRF-Token": page_csrf(carla)})  # fmt: skip
    assert invalid.status_code == 422 and invalid.json()["detail"] == "bad request: registration_number: Field required"
    searched = carla.post("/cases", data={"q": "../../etc", "csrf_token": page_csrf(carla)})
    assert searched.status_code == 400 and "search by case reference" in searched.text

    def broken(*args, **kwargs):
        raise RuntimeError("a bug with a secret inside")

    monkeypatch.setattr("dialectid.web.views.visible_cases", broken)
    for url in ("/cases", "/api/cases"):
        answer = carla.get(url)
        assert answer.status_code == 500 and "internal error" in answer.text
        assert "secret" not in answer.text and "Traceback" not in answer.text
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_identity_data_never_reaches_urls_logs_pages_or_the_audit_log(world, client, caplog):
    name, born, town = IDENTITY
    case = world.cases["carla"]
    with caplog.at_level(logging.INFO, logger="dialectid.web"):
        carla = client("carla")
        searched = carla.post("/cases", data={"q": name.split()[0], "csrf_token": page_csrf(carla)})
        seen = [
            carla.get(url).text for url in (f"/cases/{case}", f"/cases/{case}/audit", "/cases", f"/api/cases/{case}")
        ]
        adam = client("adam")
        seen += [adam.get(url).text for url in ("/admin/cases", "/api/cases", "/admin/users")]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"GET /cases/{case} 200" in logged  # the access log works...
    assert name.split()[0] not in logged and "q=" not in logged  # ...and keeps no query string
    assert searched.status_code == 200 and "match this search" in searched.text  # letters are a valid search
    assert "/cases?q" not in searched.text and 'method="post" action="/cases"' in searched.text  # never in a URL
    assert carla.post("/cases", data={"q": case}).status_code == 403  # the search form carries its CSRF token too
    for text in [*seen, json.dumps(to_json(world.store.events())), logged]:
        assert name not in text and born not in text and town not in text
    assert world.store.identity(case, "test").name == name  # it is in the case file


def test_the_api_is_described_by_its_openapi_document(app, client):
    assert client().get("/api/openapi.json").status_code == 401
    assert client("anna").get("/api/openapi.json").status_code == 403  # it lists the admins' routes too
    document = client("adam").get("/api/openapi.json").json()
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented == {r for r in routes(app) if r[1].startswith("/api/")}
    assert "CaseDetail" in document["components"]["schemas"] and "X-CSRF-Token" in document["info"]["description"]
    assert client("adam").get("/docs").status_code == 404  # no docs page: it would load scripts from a CDN


def test_a_report_attached_before_model_facts_were_stored_still_shows(world, client):
    case, number = world.cases["carla"], world.numbers["carla"]
    change = sa.text("UPDATE reports SET model_facts = :facts WHERE analysis_id = "
                     "(SELECT id FROM analyses WHERE registration_number = :n)")  # fmt: skip
    facts = world.store.report_parts(case, number).model_facts
    remove_guards(world.store)  # the database refuses it otherwise
    with world.store.engine.begin() as connection:
        connection.execute(change, {"facts": None, "n": number})
    try:
        page = client("carla").get(f"/cases/{case}/reports/{number}")
        assert page.status_code == 200 and number in page.text and "toy-stats-logreg" in page.text
        assert "test figures were not stored with this report; the PDF has them" in page.text
    finally:
        with world.store.engine.begin() as connection:
            connection.execute(change.bindparams(sa.bindparam("facts", type_=sa.JSON)), {"facts": facts, "n": number})


def test_a_login_rehashes_a_password_hashed_with_other_parameters(world, client):
    from argon2 import PasswordHasher

    from dialectid.casefile.accounts import Accounts

    accounts = Accounts(world.store)
    accounts.add(
        "olga", "analyst", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD), "setup"
    )
    log_in(client(), "olga")
    assert "$m=1024,t=1,p=1$" in accounts.credentials("olga")[1]  # today's parameters (the tests' cheap ones)
