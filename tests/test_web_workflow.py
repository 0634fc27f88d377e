"""The case workflow in the web view (issue #18): analysts and admins open a case, change its
status and assign it; every action is audited and CSRF-protected; the identity typed once never
shows again; everyone can read the walkthrough."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from dialectid.web import WebSettings, create_app
from webapp import log_in, page_csrf, world_of


@pytest.fixture(scope="module")
def world(tmp_path_factory, stats_bundle, toy_corpus):
    with world_of(tmp_path_factory.mktemp("workflow"), stats_bundle, toy_corpus) as made:
        yield made


@pytest.fixture(scope="module")
def app(world):
    return create_app(world.store, world.bundle, WebSettings())


def browser(app, name: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    log_in(client, name)
    return client


def open_case(client, name="Yusuf Beispiel", dob="1988-08-08", origin="Mosul"):
    token = page_csrf(client)
    answer = client.post("/cases-new", data={"name": name, "date_of_birth": dob, "claimed_origin": origin,
                                             "csrf_token": token})  # fmt: skip
    assert answer.status_code == 303, answer.text
    return answer.headers["location"].split("?")[0].rsplit("/", 1)[1]


def test_an_analyst_opens_a_case_and_the_identity_is_never_shown_again(world, app):
    analyst = browser(app, "anna")
    assert "Open a case" in analyst.get("/cases-new").text
    reference = open_case(analyst)
    page = analyst.get(f"/cases/{reference}?done=opened").text
    assert "The case was opened" in page and "Yusuf" not in page and "1988-08-08" not in page and "Mosul" not in page
    assert re.search(r'class="pseudonym">S-', page)
    assert all("Yusuf" not in analyst.get(url).text for url in ("/cases", f"/cases/{reference}/audit"))
    opened = [e for e in world.store.events(reference) if e.action == "case created"]
    assert opened and opened[0].actor == "anna" and "Yusuf" not in str(opened)


def test_status_and_assignment_are_changed_and_audited(world, app):
    admin = browser(app, "adam")
    reference = open_case(admin, name="Status Person")
    token = page_csrf(admin)
    for status in ("analysed", "closed", "open"):
        answer = admin.post(f"/cases/{reference}/status", data={"status": status, "csrf_token": token})
        assert answer.status_code == 303
        assert f"<dd>{status}</dd>" in admin.get(f"/cases/{reference}").text
    assert (
        admin.post(f"/cases/{reference}/assignee", data={"assignee": "colin", "csrf_token": token}).status_code == 303
    )
    assert "colin" in admin.get(f"/cases/{reference}").text
    actions = [(e.action, e.details) for e in world.store.events(reference)]
    assert ("status changed", {"previous": "open", "status": "analysed"}) in actions
    assert ("case assigned", {"assignee": "colin"}) in actions
    colin = browser(app, "colin")
    assert colin.get(f"/cases/{reference}").status_code == 200  # the assignee now sees it


def test_bad_status_unknown_caseworker_and_missing_csrf_are_refused(world, app):
    analyst = browser(app, "anna")
    reference = open_case(analyst, name="Refusal Person")
    token = page_csrf(analyst)
    bad = analyst.post(f"/cases/{reference}/status", data={"status": "deleted", "csrf_token": token})
    assert bad.status_code == 400 and "unknown case status" in bad.text
    nobody = analyst.post(f"/cases/{reference}/assignee", data={"assignee": "nobody-here", "csrf_token": token})
    assert nobody.status_code == 400 and "not an active caseworker" in nobody.text
    assert analyst.post(f"/cases/{reference}/status", data={"status": "closed"}).status_code == 403
    assert analyst.post("/cases-new", data={"name": "X Y", "date_of_birth": "1990-01-01"}).status_code == 403
    empty = analyst.post("/cases-new", data={"name": " ", "date_of_birth": "1990-01-01", "csrf_token": token})
    assert empty.status_code == 400 and "the name is empty" in empty.text


def test_caseworkers_cannot_open_or_change_cases_but_read_the_walkthrough(world, app):
    caseworker = browser(app, "carla")
    token = page_csrf(caseworker)
    reference = world.cases["carla"]
    assert caseworker.get("/cases-new").status_code == 403
    assert (
        caseworker.post(f"/cases/{reference}/status", data={"status": "closed", "csrf_token": token}).status_code == 403
    )
    walkthrough = caseworker.get("/walkthrough").text
    for words in ("not evidence", "low_confidence", "Uncertainty interval", "Quality flags", "NOT VALID"):
        assert words in walkthrough
    for image in re.findall(r'src="(/static/walkthrough/[^"]+)"', walkthrough):
        assert caseworker.get(image).status_code == 200
    assert "Open a case" not in caseworker.get("/cases").text
