"""The case file's integrity (issue #16, items 2, 4 and 5): a report describes the model that made
its analysis; the audit chain is anchored by a signed head kept outside the database (and by
exported copies of it), and it covers every stored analysis; the web view shows a report only
when what it shows is what was signed. SQLite always, PostgreSQL when DIALECTID_TEST_DATABASE_URL
is set; the attacks are raw SQL, as someone who can write the database file would run them."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from dataclasses import asdict

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dialectid.casefile import CaseStore
from dialectid.casefile.audit import event_hash
from dialectid.casefile.schema import AnalysisRow, AuditEvent, Report
from dialectid.casefile.workflow import analyse_case
from dialectid.cli import app
from dialectid.keys import digest
from dialectid.models.bundle import load_model
from dialectid.report import ModelFacts, trusted_key, verify_pdf
from dialectid.report.context import FACTS_VERSION
from dialectid.scoring import Scorer
from test_casefile import ANALYSE, BACKENDS, fresh_url
from test_report import text_of
from webapp import log_in, remove_guards, world_of

runner = CliRunner()
HEAD = "audit-head.json"


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    return CaseStore(fresh_url(request.param, tmp_path), root=tmp_path / "home")


@pytest.fixture(scope="module")
def recordings(toy_corpus, tmp_path_factory):
    from webapp import toy_recordings

    return toy_recordings(toy_corpus, tmp_path_factory.mktemp("integrity-audio"))


@pytest.fixture
def cli(store, monkeypatch):
    """`dialectid ...` on this store, as its operator would run it."""
    monkeypatch.setenv("DIALECTID_HOME", str(store.root))
    monkeypatch.setenv("DIALECTID_DATABASE_URL", store.url)
    return lambda *args: runner.invoke(app, list(args))


class Killed(Exception):
    """Stands for SIGKILL at the point where the progress callback raises it."""


def count(store, table: str) -> int:
    with store.engine.connect() as connection:
        return connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def rechain(store) -> None:
    """Recompute every event's previous_hash and hash, as a careful forger would after an edit."""
    table = AuditEvent.__table__
    with store.engine.begin() as connection:
        previous = "0" * 64
        for row in connection.execute(sa.select(table).order_by(table.c.id)).mappings().all():
            fields = {k: row[k] for k in ("at", "actor", "action", "case_reference", "details")}
            fields["previous_hash"] = previous
            previous = event_hash(fields)
            connection.execute(table.update().where(table.c.id == row["id"]).values(previous_hash=fields["previous_hash"],
                                                                                   hash=previous))  # fmt: skip


def forge(store, number: str, label: str = "ru", probability: float = 0.99) -> None:
    """Rewrite a stored analysis so that `label` wins with `probability` (still a valid Analysis),
    after dropping the triggers that refuse it."""
    remove_guards(store)
    table = AnalysisRow.__table__
    with store.engine.begin() as connection:
        data = connection.execute(sa.select(table.c.data).where(table.c.registration_number == number)).scalar()
        rest = [p for p in data["probabilities"] if p["label"] != label]
        scale = (1 - probability) / max(sum(p["probability"] for p in rest), 1e-9)
        data["probabilities"] = [{"label": label, "probability": probability}] + [
            {"label": p["label"], "probability": p["probability"] * scale} for p in rest
        ]
        data.update(top_label=label, top_probability=probability, status="ok")
        connection.execute(table.update().where(table.c.registration_number == number)
                           .values(data=data, top_label=label, status="ok"))  # fmt: skip


def some_events(store) -> str:
    case = store.new_case("A B", "1990-01-01", None, "clerk")
    store.new_case("C D", "1990-01-01", None, "clerk")
    for actor in ("carla", "colin", "carla"):
        store.show(case.reference, actor)
    return case.reference


# ---- item 2: a report describes the model that made its analysis ----------------------------------------------
def test_a_report_describes_the_model_that_made_its_analysis(store, tmp_path, recordings, stats_bundle, whisper_bundle):
    fast, accurate = load_model(stats_bundle), load_model(whisper_bundle)
    case = store.new_case("A B", "1990-01-01", None, "clerk")
    for path in recordings[:2]:
        store.add_recording(case.reference, path, "officer", "clerk")

    def killed_after_the_first_analysis(done, total, stage):
        if done == 1:
            raise Killed  # the first analysis row is stored, no report yet

    with pytest.raises(Killed):
        analyse_case(store, case.reference, fast, "analyst", progress=killed_after_the_first_analysis)
    assert (count(store, "analyses"), count(store, "reports")) == (1, 0)
    outcome = analyse_case(store, case.reference, accurate, "analyst")  # rerun with the other model
    assert not outcome.failed and len(outcome.reports) == 3  # the fast analysis's, and two by accurate
    with store.transaction() as session:
        rows = session.execute(sa.select(AnalysisRow, Report).join(Report, Report.analysis_id == AnalysisRow.id)).all()
    for analysis, report in rows:
        bundle = fast if analysis.bundle_sha256 == fast.sha256 else accurate
        facts = asdict(ModelFacts.from_bundle(bundle))
        assert report.model_facts == facts, analysis.model_id
        info = verify_pdf(report.pdf, trusted_key(store.keys_dir))
        assert info.model == bundle.model_id and info.model_sha256 == digest(
            ModelFacts(**facts).digest_form(FACTS_VERSION)
        )
    (fast_pdf,) = [r.pdf for a, r in rows if a.bundle_sha256 == fast.sha256]
    text = text_of(fast_pdf, tmp_path)
    assert fast.model_id in text and accurate.model_id not in text


def test_an_analysis_stored_without_its_model_facts_is_reported_only_by_its_own_bundle(
    store, recordings, stats_bundle, whisper_bundle
):
    """As analyses stored by an older version: no model facts beside them."""
    fast, accurate = load_model(stats_bundle), load_model(whisper_bundle)
    case = store.new_case("A B", "1990-01-01", None, "clerk")
    store.add_recording(case.reference, recordings[0], "officer", "clerk")
    (recording,) = store.pending(case.reference, fast.sha256)
    old = Scorer(fast).analyse(store.recordings.path(recording.sha256))
    store.store_analysis(case.reference, recording, old, "analyst")  # no model facts: an older version
    outcome = analyse_case(store, case.reference, accurate, "analyst")
    assert old.registration_number not in outcome.reports and len(outcome.reports) == 1  # accurate's own analysis
    (message,) = outcome.failed
    assert old.registration_number in message and "re-analyse" in message and "\n" not in message
    assert fast.sha256[:12] in message
    again = analyse_case(store, case.reference, fast, "analyst")  # the bundle that made it: its facts are known
    assert again.reports == [old.registration_number] and not again.failed
    _, pdf = store.report_pdf(case.reference, old.registration_number, "caseworker")
    signed = verify_pdf(pdf, trusted_key(store.keys_dir))
    assert signed.model_sha256 == digest(ModelFacts.from_bundle(fast).digest_form(FACTS_VERSION))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_analysis_finished_with_another_model_is_reported_with_its_own(
    backend, tmp_path, recordings, stats_bundle, whisper_bundle
):
    """The reproduction of #16 item 2 with real processes: SIGKILL after the first analysis row."""
    url, home = fresh_url(backend, tmp_path), tmp_path / "home"
    store = CaseStore(url, root=home)
    case = store.new_case("A B", "1990-01-01", None, "clerk")
    for path in recordings:
        store.add_recording(case.reference, path, "officer", "clerk")
    env = {**os.environ, "DIALECTID_HOME": str(home), "DIALECTID_DATABASE_URL": url}
    command = [sys.executable, "-c", ANALYSE, "case", "analyse", case.reference, "--model"]
    watcher = sa.create_engine(url)  # a plain reader: takes no write lock while it polls
    process = subprocess.Popen([*command, str(stats_bundle)], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    with watcher.connect() as connection:
        while connection.execute(sa.text("SELECT count(*) FROM analyses")).scalar() == 0:
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read().decode()
            time.sleep(0.01)
            connection.rollback()
    process.send_signal(signal.SIGKILL)
    process.wait()
    watcher.dispose()
    assert count(store, "reports") == 0 and count(store, "analyses") < len(recordings)
    rerun = subprocess.run([*command, str(whisper_bundle)], env=env, capture_output=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr.decode()
    fast, accurate = load_model(stats_bundle), load_model(whisper_bundle)
    with store.transaction() as session:
        rows = session.execute(sa.select(AnalysisRow, Report).join(Report, Report.analysis_id == AnalysisRow.id)).all()
    assert {a.bundle_sha256 for a, _ in rows} == {fast.sha256, accurate.sha256}
    for analysis, report in rows:
        assert report.model_facts["bundle_sha256"] == analysis.bundle_sha256
        bundle = fast if analysis.bundle_sha256 == fast.sha256 else accurate
        assert verify_pdf(report.pdf, trusted_key(home / "keys")).model_sha256 == digest(
            ModelFacts.from_bundle(bundle).digest_form(FACTS_VERSION)
        )
        other = accurate if bundle is fast else fast
        text = text_of(report.pdf, tmp_path)
        assert bundle.model_id in text and other.model_id not in text


# ---- item 4: the audit chain is anchored outside the database, and covers the analyses -------------------------
def test_the_signed_head_is_a_private_file_beside_the_database(store):
    some_events(store)
    head = store.root / HEAD
    assert stat.S_IMODE(head.stat().st_mode) == 0o600
    meta = json.loads(head.read_text())["meta"]
    with store.engine.connect() as connection:
        last = connection.execute(sa.text("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")).one()
    assert (meta["event"], meta["hash"]) == tuple(last)
    assert [p.name for p in store.root.iterdir() if p.name.startswith(f".{HEAD}")] == []  # written atomically
    assert store.verify_audit() == (count(store, "audit_events"), None)


def test_removing_the_last_events_is_detected_beyond_the_signed_head(store, cli):
    some_events(store)
    events = count(store, "audit_events")
    assert cli("audit", "verify").exit_code == 0
    remove_guards(store)
    with store.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM audit_events WHERE id > :n"), {"n": events - 2})
    _, problem = store.verify_audit()
    assert problem is not None and "truncated" in problem and f"event {events}" in problem
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "NOT intact" in result.stderr and "truncated" in result.stderr
    store.show(some_events(store), "carla")  # later events do not move the signed head past the gap
    _, problem = store.verify_audit()
    assert problem is not None and f"event {events}" in problem and "removed" in problem


def test_rewriting_an_event_and_recomputing_the_chain_is_detected_by_the_signed_head(store, cli):
    some_events(store)
    remove_guards(store)
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE audit_events SET actor = 'someone else' WHERE id = 3"))
    rechain(store)
    _, problem = store.verify_audit()
    assert problem is not None and "signed head" in problem and "rewritten" in problem
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "NOT intact" in result.stderr


def test_a_forged_analysis_is_detected_by_audit_verify_show_and_the_report(store, cli, recordings, stats_bundle):
    bundle = load_model(stats_bundle)
    case = store.new_case("A B", "1990-01-01", None, "clerk")
    store.add_recording(case.reference, recordings[0], "officer", "clerk")
    (number,) = analyse_case(store, case.reference, bundle, "analyst").analysed
    assert store.verify_audit()[1] is None
    forge(store, number)
    _, problem = store.verify_audit()
    assert problem is not None and number in problem and "changed" in problem
    (analysis,) = store.show(case.reference, "caseworker").recordings[0].analyses
    assert not analysis.integrity.valid and "NOT VALID" in analysis.integrity.message
    assert analysis.probabilities == [] and analysis.top_label is None  # the forged figures are not shown
    shown = cli("case", "show", case.reference)
    assert shown.exit_code == 0 and f"{number}  NOT VALID" in shown.stdout and "ru 99 %" not in shown.stdout
    assert '"ru"' not in json.dumps(json.loads(cli("case", "show", case.reference, "--json").stdout)["recordings"])
    result = cli("audit", "verify")
    assert result.exit_code == 1 and number in result.stderr


def delete_rows(store, number: str, tables: tuple[str, ...]) -> None:
    """Delete the rows of analysis `number` from `tables` (feedback, reports, analyses), as raw SQL,
    after dropping the triggers that refuse it."""
    remove_guards(store)
    with store.engine.begin() as connection:
        for table in tables:
            column = "id" if table == "analyses" else "analysis_id"
            connection.execute(sa.text(f"DELETE FROM {table} WHERE {column} = "
                                       "(SELECT id FROM analyses WHERE registration_number = :n)"), {"n": number})  # fmt: skip


def test_a_deleted_report_or_analysis_is_detected_by_audit_verify_and_show(store, cli, recordings, stats_bundle):
    """Issue #26 item 1: deleting the rows left `audit verify` saying intact and the case 'Not analysed yet'."""
    bundle = load_model(stats_bundle)
    case = store.new_case("A B", "1990-01-01", None, "clerk")
    store.add_recording(case.reference, recordings[0], "officer", "clerk")
    (number,) = analyse_case(store, case.reference, bundle, "analyst").reports
    store.add_feedback(number, "carla", "caseworker", True, None, "fits the interview")
    assert store.verify_audit()[1] is None
    for tables, what in ((("reports",), "its signed report"), (("feedback", "analyses"), "its row")):
        delete_rows(store, number, tables)
        _, problem = store.verify_audit()
        assert problem is not None and number in problem and what in problem and "deleted" in problem, problem
        (analysis,) = store.show(case.reference, "caseworker").recordings[0].analyses
        assert analysis.registration_number == number and not analysis.integrity.valid, analysis
        assert what in analysis.integrity.message and analysis.probabilities == []
        shown = cli("case", "show", case.reference)
        assert shown.exit_code == 0 and f"{number}  NOT VALID" in shown.stdout, shown.output
        result = cli("audit", "verify")
        assert result.exit_code == 1 and number in result.stderr and "deleted" in result.stderr


def test_the_database_refuses_to_change_or_delete_an_analysis_or_report(store, recordings, stats_bundle):
    """As for the audit table: dialectid never changes or deletes a stored result, so the database
    refuses it (whoever drops the triggers first is caught by audit verify, above)."""
    case = store.new_case("A B", "1990-01-01", None, "clerk")
    store.add_recording(case.reference, recordings[0], "officer", "clerk")
    assert analyse_case(store, case.reference, load_model(stats_bundle), "analyst").reports
    for statement in ("UPDATE analyses SET top_label = 'ru'", "DELETE FROM analyses",
                      "UPDATE reports SET model_facts = NULL", "DELETE FROM reports"):  # fmt: skip
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as connection:
            connection.execute(sa.text(statement))
    assert count(store, "analyses") == count(store, "reports") == 1 and store.verify_audit()[1] is None


@pytest.mark.parametrize("change", ["pseudonym", "model facts"])
def test_audit_verify_and_the_web_view_agree_on_what_a_report_was_signed_over(change, store, cli, recordings,
                                                                              stats_bundle):  # fmt: skip
    """Issue #26 item 2: after these edits the web view said NOT VALID and audit verify 'intact'."""
    case = store.new_case("A B", "1990-01-01", None, "clerk")
    store.add_recording(case.reference, recordings[0], "officer", "clerk")
    (number,) = analyse_case(store, case.reference, load_model(stats_bundle), "analyst").reports
    assert store.verify_audit()[1] is None
    remove_guards(store)
    facts = {**store.report_parts(case.reference, number).model_facts, "test_accuracy": 0.999}
    with store.engine.begin() as connection:
        if change == "pseudonym":
            connection.execute(sa.text("UPDATE subjects SET pseudonym = 'S-FORGED00000'"))
        else:
            connection.execute(sa.text("UPDATE reports SET model_facts = :facts").bindparams(
                sa.bindparam("facts", type_=sa.JSON)), {"facts": facts})  # fmt: skip
    _, problem = store.verify_audit()
    assert problem is not None and number in problem and case.reference in problem, problem
    assert ("case details" if change == "pseudonym" else "model facts") in problem
    result = cli("audit", "verify")
    assert result.exit_code == 1 and number in result.stderr


def test_an_inserted_or_forged_analysis_is_detected_and_never_signed(store, recordings, stats_bundle):
    bundle = load_model(stats_bundle)
    case = store.new_case("A B", "1990-01-01", None, "clerk")
    store.add_recording(case.reference, recordings[0], "officer", "clerk")

    def killed_after_the_first_analysis(done, total, stage):
        if done == 1:
            raise Killed

    with pytest.raises(Killed):
        analyse_case(store, case.reference, bundle, "analyst", progress=killed_after_the_first_analysis)
    table = AnalysisRow.__table__
    inserted = "DID-20260101-FFFFFFFF"
    with store.engine.begin() as connection:  # a whole analysis row that dialectid never stored
        row = dict(connection.execute(sa.select(table)).mappings().one())
        number = row["registration_number"]
        row.update(registration_number=inserted, bundle_sha256="ee" * 32)
        row["data"] = {**row["data"], "registration_number": inserted}
        connection.execute(table.insert().values({k: v for k, v in row.items() if k != "id"}))
    _, problem = store.verify_audit()
    assert problem is not None and inserted in problem and "no audit event" in problem
    forge(store, number)  # and the genuine one changed before its report is signed
    outcome = analyse_case(store, case.reference, bundle, "analyst")
    assert outcome.reports == [] and count(store, "reports") == 0
    assert len(outcome.failed) == 2 and all("\n" not in m for m in outcome.failed)
    assert any(number in m for m in outcome.failed) and any(inserted in m for m in outcome.failed)


def test_an_exported_anchor_vouches_for_the_events_before_it(store, cli, tmp_path, recordings, stats_bundle):
    reference = some_events(store)
    store.add_recording(reference, recordings[0], "officer", "clerk")
    analyse_case(store, reference, load_model(stats_bundle), "analyst")
    anchor, report = tmp_path / "elsewhere" / "anchor.json", tmp_path / "elsewhere" / "report.pdf"
    anchor.parent.mkdir()
    exported = cli("audit", "anchor", "--export", str(anchor))
    assert exported.exit_code == 0, exported.output
    assert cli("case", "export-report", reference, "-o", str(report)).exit_code == 0
    for actor in ("carla", "colin"):  # the chain grows after the export: the anchor still holds
        store.show(reference, actor)
    for copy in (anchor, report):
        checked = cli("audit", "verify", "--anchor", str(copy))
        assert checked.exit_code == 0 and "anchor" in checked.stdout, checked.output
    # Someone who holds the whole data home (the database and the key) rewrites an early event,
    # recomputes the chain and has the head signed again: the data home cannot tell ...
    remove_guards(store)
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE audit_events SET actor = 'someone else' WHERE id = 2"))
    rechain(store)
    (store.root / HEAD).unlink()
    store.show(reference, "carla")  # the next event signs a head for the rewritten chain
    assert cli("audit", "verify").exit_code == 0
    # ... but the copies kept elsewhere can
    for copy in (anchor, report):
        checked = cli("audit", "verify", "--anchor", str(copy))
        assert checked.exit_code == 1 and "NOT intact" in checked.stderr and "anchor" in checked.stderr, checked.output
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps({"meta": {**json.loads(anchor.read_text())["meta"], "event": 1}, "sig": "AAAA"}))
    refused = cli("audit", "verify", "--anchor", str(unsigned))
    assert refused.exit_code == 1 and "signature" in refused.stderr


# ---- item 5: the web view shows what was signed, or says NOT VALID ----------------------------------------------
@pytest.fixture(scope="module")
def web(tmp_path_factory, stats_bundle, toy_corpus):
    from dialectid.web import create_app

    with world_of(tmp_path_factory.mktemp("web-integrity"), stats_bundle, toy_corpus) as world:
        yield world, create_app(world.store, world.bundle)


def browser(app, name: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    log_in(client, name)
    return client


def test_the_web_view_says_not_valid_when_the_stored_analysis_differs_from_the_signed_one(web):
    world, app = web
    carla = browser(app, "carla")
    case, number = world.cases["carla"], world.numbers["carla"]
    report = carla.get(f"/api/cases/{case}/reports/{number}").json()
    assert report["signature"]["valid"] and report["analysis"]["registration_number"] == number
    assert "ru" not in report["report"]["probabilities"]
    forge(world.store, number)
    page = carla.get(f"/cases/{case}/reports/{number}")
    assert page.status_code == 200 and "Signature: NOT VALID" in page.text and "Signature: valid" not in page.text
    assert "<td>Russian</td>" not in page.text and "<td>ru</td>" not in page.text and "99.0 %" not in page.text
    api = carla.get(f"/api/cases/{case}/reports/{number}").json()
    assert not api["signature"]["valid"] and api["signature"]["message"].startswith("NOT VALID")
    assert api["report"] is None and api["analysis"] is None
    case_page = carla.get(f"/cases/{case}").text
    assert "NOT VALID" in case_page and "Signature: valid" not in case_page and "Russian" not in case_page
    (analysis,) = carla.get(f"/api/cases/{case}").json()["recordings"][0]["analyses"]
    assert not analysis["signature"]["valid"] and analysis["probabilities"] == []


def test_the_web_view_says_not_valid_when_the_stored_model_facts_differ_from_the_signed_ones(web):
    world, app = web
    colin = browser(app, "colin")
    case, number = world.cases["colin"], world.numbers["colin"]
    assert colin.get(f"/api/cases/{case}/reports/{number}").json()["signature"]["valid"]
    change = sa.text("UPDATE reports SET model_facts = :facts WHERE analysis_id = "
                     "(SELECT id FROM analyses WHERE registration_number = :n)")  # fmt: skip
    facts = {**world.store.report_parts(case, number).model_facts, "test_accuracy": 0.999}
    remove_guards(world.store)
    with world.store.engine.begin() as connection:
        connection.execute(change.bindparams(sa.bindparam("facts", type_=sa.JSON)), {"facts": facts, "n": number})
    api = colin.get(f"/api/cases/{case}/reports/{number}").json()
    assert not api["signature"]["valid"] and "model" in api["signature"]["message"] and api["report"] is None
    page = colin.get(f"/cases/{case}/reports/{number}").text
    assert "Signature: NOT VALID" in page and "99.9 %" not in page


def test_the_web_view_says_not_valid_where_an_analysis_was_deleted(web):
    """Issue #26 item 1: the case page said "Not analysed yet" once the rows were deleted."""
    world, app = web
    case = world.store.new_case("E F", "1990-01-01", None, "setup")
    world.store.assign(case.reference, "carla", "setup")
    world.store.add_recording(case.reference, world.recordings[0], "officer", "setup")
    (number,) = analyse_case(world.store, case.reference, world.bundle, "setup").analysed
    delete_rows(world.store, number, ("feedback", "reports", "analyses"))
    carla = browser(app, "carla")
    page = carla.get(f"/cases/{case.reference}").text
    assert "NOT VALID" in page and "was deleted" in page and number in page and "Not analysed yet" not in page
    (analysis,) = carla.get(f"/api/cases/{case.reference}").json()["recordings"][0]["analyses"]
    assert analysis["registration_number"] == number and not analysis["integrity"]["valid"]
