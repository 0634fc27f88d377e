"""#27, done when: a new field of an Analysis reaches JSON, PDF, web and API by editing the
dataclass and the one place that renders it. That place is `report.content.ANALYSIS_FACTS`: one
line added there (here a fact nothing showed before, the analysis's schema version) must appear in
the signed PDF, the HTML report, the case page, the API's case view and report, and `case show
--json`, with nothing else changed."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dialectid.cli import app as cli
from dialectid.report import content
from dialectid.web import WebSettings, create_app
from test_report import text_of
from webapp import log_in, world_of

FACT = ("Analysis schema", lambda a: f"schema version {a.schema_version} of the analysis")
SAID = "schema version 2 of the analysis"


@pytest.fixture
def world(tmp_path, stats_bundle, toy_corpus, monkeypatch):
    monkeypatch.setattr(content, "ANALYSIS_FACTS", [*content.ANALYSIS_FACTS, FACT])
    with world_of(tmp_path, stats_bundle, toy_corpus) as made:  # its reports are signed with the new fact
        yield made


def test_one_line_in_analysis_facts_reaches_every_rendering(world, tmp_path, monkeypatch):
    case, number = world.cases["carla"], world.numbers["carla"]
    carla = TestClient(create_app(world.store, world.bundle, WebSettings()), follow_redirects=False)
    log_in(carla, "carla")

    pdf = carla.get(f"/cases/{case}/reports/{number}/pdf").content
    assert SAID in " ".join(text_of(pdf, tmp_path).split())  # the signed PDF
    report_page = carla.get(f"/cases/{case}/reports/{number}").text
    assert f'<th>Analysis schema</th><td class="wrap">{SAID}</td>' in report_page  # the HTML report
    case_page = carla.get(f"/cases/{case}").text
    facts = re.search(r'<details class="analysis-facts">.*?</details>', case_page, flags=re.S)
    assert facts and f"<dt>Analysis schema</dt><dd>{SAID}</dd>" in facts.group()  # the case page's own facts

    (analysis,) = carla.get(f"/api/cases/{case}").json()["recordings"][0]["analyses"]
    assert analysis["facts"][-1] == {"label": "Analysis schema", "value": SAID}  # the API's case view
    report = carla.get(f"/api/cases/{case}/reports/{number}").json()
    assert report["report"]["recording"]["Analysis schema"] == SAID  # the API's report
    assert report["analysis"]["schema_version"] == 2  # and the Analysis itself, as its JSON always has it

    monkeypatch.setenv("DIALECTID_HOME", str(world.store.root))
    monkeypatch.setenv("DIALECTID_DATABASE_URL", world.store.url)
    shown = json.loads(CliRunner().invoke(cli, ["case", "show", case, "--json"]).stdout)
    assert {"label": "Analysis schema", "value": SAID} in shown["recordings"][0]["analyses"][0]["facts"]


def test_without_the_line_no_rendering_has_the_fact(tmp_path, stats_bundle, toy_corpus):
    """The other side: the fact comes from that one line and from nowhere else."""
    with world_of(tmp_path, stats_bundle, toy_corpus) as world:
        case, number = world.cases["carla"], world.numbers["carla"]
        carla = TestClient(create_app(world.store, world.bundle, WebSettings()), follow_redirects=False)
        log_in(carla, "carla")
        pdf = carla.get(f"/cases/{case}/reports/{number}/pdf").content
        seen = [text_of(pdf, tmp_path), carla.get(f"/cases/{case}").text,
                carla.get(f"/cases/{case}/reports/{number}").text, carla.get(f"/api/cases/{case}").text]  # fmt: skip
        assert all("Analysis schema" not in text for text in seen)
        assert "Net speech" in seen[1] and "Net speech" in seen[3]  # the facts that are in the list are shown
