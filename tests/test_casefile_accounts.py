"""The case file's side of the web view, on SQLite (always) and PostgreSQL (when
DIALECTID_TEST_DATABASE_URL is set): users, sessions, failed logins, assignments, searching, feedback
summaries and the parts a report is shown again from."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dialectid.casefile import CaseError, CaseStore
from dialectid.casefile.accounts import Accounts
from dialectid.casefile.summaries import ModelAgreement
from dialectid.casefile.workflow import analyse_case
from dialectid.models.bundle import load_model
from test_casefile import BACKENDS, fresh_url
from webapp import toy_recordings

HOUR = timedelta(hours=1)


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    return CaseStore(fresh_url(request.param, tmp_path), root=tmp_path / "home")


def token_sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_users_sessions_and_failed_logins(store):
    accounts = Accounts(store)
    carla = accounts.add("carla", "caseworker", "$argon2id$hash", "setup")
    with pytest.raises(CaseError, match="user 'carla' already exists"):
        accounts.add("carla", "admin", "$argon2id$other", "setup")
    with pytest.raises(CaseError, match="unknown role 'boss'"):
        accounts.add("bob", "boss", "h", "setup")
    assert accounts.credentials("carla") == (carla, "$argon2id$hash") and accounts.credentials("nobody") is None
    accounts.login_failed(carla, client="192.0.2.1")
    accounts.login_failed(None, attempts=10, client="192.0.2.1", since="2026-01-01T00:00:00+00:00")  # aggregated
    accounts.open_session(carla, token_sha("t1"), HOUR)
    assert accounts.get(carla.id).active  # failures lock nobody out
    assert accounts.session_account(token_sha("t1")).name == "carla"
    assert accounts.session_account(token_sha("forged")) is None
    accounts.open_session(carla, token_sha("old"), timedelta(seconds=-1))
    assert accounts.session_account(token_sha("old")) is None  # expired
    accounts.end_session(token_sha("t1"), "carla")
    assert accounts.session_account(token_sha("t1")) is None
    accounts.open_session(carla, token_sha("t2"), HOUR)
    accounts.set_active("carla", False, "admin")
    assert accounts.session_account(token_sha("t2")) is None  # deactivation ends every session
    actions = [e.action for e in store.events()]
    assert actions == ["user added", "login failed", "login failed", "logged in", "logged in", "logged out",
                       "logged in", "user deactivated"]  # fmt: skip
    failed = [(e.actor, e.details) for e in store.events() if e.action == "login failed"]
    assert failed == [("carla", {"reason": "wrong password", "attempts": 1, "client": "192.0.2.1"}),
                      ("anonymous", {"reason": "unknown or inactive user", "attempts": 10, "client": "192.0.2.1",
                                     "since": "2026-01-01T00:00:00+00:00"})]  # fmt: skip
    assert "t1" not in str(store.events()) and store.verify_audit()[1] is None


def test_assignments_and_searching_cases(store):
    Accounts(store).add("carla", "caseworker", "h", "setup")
    Accounts(store).add("anna", "analyst", "h", "setup")
    first = store.new_case("A B", "1990-01-01", None, "clerk").reference
    second = store.new_case("C D", "1990-01-01", None, "clerk").reference
    store.assign(first, "carla", "admin")
    with pytest.raises(CaseError, match="'anna' is not an active caseworker"):
        store.assign(second, "anna", "admin")
    carla_id = Accounts(store).by_name("carla").id
    assert store.assignee(first) == carla_id and store.assignee(second) is None
    assert [c.reference for c in store.list_cases(assigned_to=carla_id)] == [first]
    assert [c.assigned_to for c in store.list_cases()] == ["carla", None]
    assert [c.reference for c in store.list_cases(search=second[-6:].lower())] == [second]
    assert store.list_cases(status="closed") == []
    with pytest.raises(CaseError, match="search by case reference"):  # a reference's characters only: no LIKE
        store.list_cases(search="%")
    assert store.statuses() == ["open"]
    store.assign(first, None, "admin")
    assert store.assignee(first) is None
    with pytest.raises(CaseError, match="no case 'C-NOPE'"):
        store.assignee("C-NOPE")


def test_feedback_summary_and_report_parts(store, stats_bundle, toy_corpus, tmp_path):
    bundle = load_model(stats_bundle)
    references, numbers = [], []
    for recording in toy_recordings(toy_corpus, tmp_path / "audio")[:2]:
        case = store.new_case("A B", "1990-01-01", None, "clerk")
        store.add_recording(case.reference, recording, "officer", "clerk")
        numbers += analyse_case(store, case.reference, bundle, "analyst").analysed
        references.append(case.reference)
    store.add_feedback(numbers[0], "carla", "caseworker", True, None, None, reference=references[0])
    store.add_feedback(numbers[0], "carla", "caseworker", False, "linguist: German", "no", reference=references[0])
    store.add_feedback(numbers[1], "colin", "caseworker", None, None, None)
    with pytest.raises(CaseError, match=f"no analysis '{numbers[1]}' in case {references[0]}"):
        store.add_feedback(numbers[1], "carla", "caseworker", True, None, None, reference=references[0])
    assert store.agreement_by_model() == [ModelAgreement("toy-stats-logreg", feedback=3, agree=1, disagree=1,
                                                         no_opinion=1, agreement=0.5)]  # fmt: skip
    parts = store.report_parts(references[0], numbers[0])
    assert parts.registration_number == numbers[0] and parts.pdf.startswith(b"%PDF")
    assert parts.model_facts["name"] == "toy-stats-logreg" and parts.model_facts["bundle_sha256"] == bundle.sha256
    assert parts.pseudonym.startswith("S-") and parts.analysis["registration_number"] == numbers[0]
    with pytest.raises(CaseError, match="has no report"):
        store.report_parts(references[1], numbers[0])  # another case's report is not this case's
    sha = parts.analysis["audio"]["sha256"]
    assert store.recording(references[0], sha).sha256 == sha
    with pytest.raises(CaseError, match="has no recording"):
        store.recording(references[1], sha)
    shown = store.show(references[0], "carla").recordings[0].analyses[0]
    assert [f.agrees for f in shown.feedback] == [True, False] and shown.quality.status
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM reports WHERE model_facts IS NULL")).scalar() == 0
