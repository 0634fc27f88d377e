"""The hierarchical analysis (scoring/dialects.py): a dialect head splits its language's probability,
the children sum to the parent, its own rule says "dialect uncertain", and the block reaches the
JSON, the signed report, the CLI, the demo and the web view (in a real headless Chromium; its
screenshots go to reports/screenshots/). The bundles are trained here on espeak speech in seconds."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialectid.errors import DialectidError
from dialectid.models.contract import EncoderSection
from dialectid.scoring import Analysis, DecisionConfig, Scorer, ScoringConfig
from dialectid.scoring.analysis import EXAMPLE, ModelRef
from dialectid.scoring.dialects import CompositionError, DialectRules, compose
from dialects import ACCENTS, LENIENT, accent_recording, make_accent_corpus, train_dialect_bundle
from test_web_browser import SCREENSHOTS, chromium, log_in, page  # noqa: F401 - chromium, page: fixtures
from toy import concatenate
from webapp import PASSWORD, cheap_passwords, serving

MODEL = ModelRef(id="dialect-toy", name="stats-logreg", bundle_sha256="ab" * 32)


# ---- the rule, on its own ------------------------------------------------------------------------
@st.composite
def splits(draw):
    n = draw(st.integers(2, 8))
    shares = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n).filter(lambda xs: sum(xs) > 1e-6))
    return (DialectRules("ar", tuple(f"ar-{i}" for i in range(n)), threshold=draw(st.floats(0.05, 0.95)),
                         min_speech_s=draw(st.floats(0, 10)), model=MODEL, open_set_threshold=draw(
                             st.none() | st.floats(0.1, 5))),
            draw(st.floats(0, 1)), shares, draw(st.sampled_from(["ok", "low_confidence"])),
            draw(st.floats(0, 60)), draw(st.none() | st.floats(0, 10)))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(splits())
def test_the_dialects_sum_to_their_parent_and_only_a_supported_dialect_is_named(case):
    rules, parent_p, shares, language_status, speech_s, novelty = case
    result = rules.apply(parent_p, shares, language_status, speech_s, novelty)
    total = sum(c.probability for c in result.children)
    assert abs(total - parent_p) <= 1e-5 * len(shares)
    assert sorted(c.label for c in result.children) == sorted(rules.labels)
    assert all(c.probability >= 0 for c in result.children)
    share = max(shares) / sum(shares)
    novel = novelty is not None and rules.open_set_threshold is not None and novelty > rules.open_set_threshold
    supported = share >= rules.threshold and language_status == "ok" and speech_s >= rules.min_speech_s and not novel
    assert result.status == ("ok" if supported else "dialect_uncertain")
    if result.status == "ok":
        assert result.top_dialect == rules.labels[int(np.argmax(shares))] and result.reason is None
    else:
        assert result.top_dialect is None and result.reason


def test_below_the_threshold_the_result_names_no_dialect_and_says_why():
    rules = DialectRules("ar", ("ar-EGY", "ar-GLF", "ar-LAV"), threshold=0.5, min_speech_s=3.0, model=MODEL)
    uncertain = rules.apply(0.8, [0.3, 0.3, 0.4], "ok", 30.0)
    assert (uncertain.status, uncertain.top_dialect) == ("dialect_uncertain", None)
    assert uncertain.reason == ("the most likely dialect has 40 % of the Arabic probability, less than the 50 % "
                                "the dialect model needs to name one")  # fmt: skip
    assert rules.apply(0.8, [0.1, 0.1, 0.8], "ok", 30.0).top_dialect == "ar-LAV"
    assert rules.apply(0.8, [0.1, 0.1, 0.8], "low_confidence", 30.0).status == "dialect_uncertain"
    assert rules.apply(0.8, [0.1, 0.1, 0.8], "ok", 2.0).reason.startswith("2.0 s of speech")


def test_groups_between_parent_and_dialects_are_the_sums_of_their_dialects():
    """ADI-17's layout: ar -> regions -> countries; the regions are reported as their countries' sums."""
    labels = ("ALG", "MOR", "EGY", "SUD", "JOR")
    groups = (("ar-NOR", (0, 1)), ("ar-EGY", (2, 3)), ("ar-LAV", (4,)))
    rules = DialectRules("ar", labels, threshold=0.5, min_speech_s=3.0, model=MODEL, groups=groups)
    result = rules.apply(0.5, [0.1, 0.2, 0.3, 0.3, 0.1], "ok", 30.0)
    assert [(g.label, g.probability) for g in result.groups] == [("ar-EGY", 0.3), ("ar-NOR", 0.15), ("ar-LAV", 0.05)]
    assert result.status == "dialect_uncertain"  # no country reaches half of Arabic, though a region does


def test_an_analysis_of_schema_1_still_reads_and_a_dialect_block_round_trips():
    old = {**EXAMPLE, "schema_version": 1}
    analysis = Analysis.from_dict(old)
    assert analysis.dialects is None and analysis.schema_version == 1
    block = DialectRules("en", ("en-GB", "en-US"), 0.5, 1.0, MODEL).apply(0.8, [0.25, 0.75], "ok", 30.0)
    new = analysis.model_copy(update={"dialects": block, "schema_version": 2})
    assert Analysis.from_dict(json.loads(json.dumps(new.to_dict()))) == new
    assert new.to_dict()["dialects"]["children"][0] == {"label": "en-US", "probability": 0.6}


# ---- bundles trained here ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def accents(tmp_path_factory):
    return make_accent_corpus(tmp_path_factory.mktemp("accents"))


@pytest.fixture(scope="module")
def dialect_bundle(accents, tmp_path_factory):
    """A stats dialect head under `en` whose own threshold names a dialect above a third."""
    return train_dialect_bundle(accents, tmp_path_factory.mktemp("dialect"), "stats-logreg",
                                decision={"min_speech_s": 1.0, "low_confidence": 0.34})  # fmt: skip


@pytest.fixture(scope="module")
def cautious_bundle(accents, tmp_path_factory):
    """The same head with a threshold no toy split reaches: it must say 'dialect uncertain'."""
    return train_dialect_bundle(accents, tmp_path_factory.mktemp("cautious"), "stats-logreg",
                                decision={"min_speech_s": 1.0, "low_confidence": 0.999})  # fmt: skip


@pytest.fixture(scope="module")
def recordings(accents, toy_corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("recordings")
    spanish = sorted((toy_corpus["train"].parent / "audio" / "es" / "v3").glob("*.wav"))  # one it tells apart
    return {"en-US": accent_recording(accents, "en-US", folder), "es": concatenate(spanish, folder / "es.wav")}


def test_the_dialect_head_splits_english_and_leaves_spanish_alone(stats_bundle, dialect_bundle, recordings):
    from dialectid.models.bundle import load_model

    language, dialect = load_model(stats_bundle), load_model(dialect_bundle)
    scorer = Scorer(language, LENIENT, dialect=dialect)
    english = scorer.analyse(recordings["en-US"])
    assert (english.top_label, english.status) == ("en", "ok")
    block = english.dialects
    assert block.parent == "en" and block.parent_probability == english.top_probability
    assert abs(sum(c.probability for c in block.children) - english.top_probability) < 1e-5
    assert {c.label for c in block.children} == set(ACCENTS)
    assert block.status == "ok" and block.top_dialect == block.children[0].label
    assert block.model.bundle_sha256 == dialect.sha256 and block.threshold == 0.34
    # the language result is exactly what the language model alone says
    alone = Scorer(language, LENIENT).analyse(recordings["en-US"])
    assert alone.dialects is None and alone.probabilities == english.probabilities
    spanish = scorer.analyse(recordings["es"])
    assert spanish.top_label == "es" and spanish.dialects is None


def test_below_its_own_threshold_the_head_says_dialect_uncertain(stats_bundle, cautious_bundle, recordings):
    from dialectid.models.bundle import load_model

    scorer = Scorer(load_model(stats_bundle), LENIENT, dialect=load_model(cautious_bundle))
    analysis = scorer.analyse(recordings["en-US"])
    block = analysis.dialects
    assert (block.status, block.top_dialect, block.threshold) == ("dialect_uncertain", None, 0.999)
    assert abs(sum(c.probability for c in block.children) - analysis.top_probability) < 1e-5


def test_a_three_level_dialect_tree_as_adi17_has_reports_its_groups(stats_bundle, accents, recordings, tmp_path):
    from dialectid.models.bundle import load_model
    from dialectid.report.dialect import dialect_content

    tree = {"en": {"en-brit": ["en-GB", "en-GB-scotland"], "en-amer": ["en-US"]}}
    head = train_dialect_bundle(accents, tmp_path, "stats-logreg", taxonomy={"tree": tree},
                                decision={"min_speech_s": 1.0, "low_confidence": 0.34})  # fmt: skip
    block = Scorer(load_model(stats_bundle), LENIENT, dialect=load_model(head)).analyse(recordings["en-US"]).dialects
    share = {c.label: c.probability for c in block.children}
    groups = {g.label: g.probability for g in block.groups}
    assert set(groups) == {"en-brit", "en-amer"}
    assert abs(groups["en-brit"] - share["en-GB"] - share["en-GB-scotland"]) < 2e-6
    assert abs(groups["en-amer"] - share["en-US"]) < 2e-6
    assert abs(sum(groups.values()) - block.parent_probability) < 1e-5
    assert "By dialect group" in dialect_content(block).lines[-1]


def test_bundles_that_do_not_fit_are_refused_in_one_line(stats_bundle, dialect_bundle, whisper_bundle):
    from dialectid.models.bundle import load_model

    language, dialect = load_model(stats_bundle), load_model(dialect_bundle)
    with pytest.raises(CompositionError, match="its dialects are of 'en', which the language model") as caught:
        compose(dialect, dialect)  # 'en' is not one of the dialect bundle's own labels
    assert "\n" not in caught.value.message
    with pytest.raises(CompositionError, match="2 top nodes"):
        compose(language, language)
    other = dialect.description.model_copy(update={"encoder": EncoderSection(name="whisper-base", sha256="cd" * 32)})
    with pytest.raises(CompositionError, match="encoder sha256 cdcdcdcdcdcd.*no encoder"):
        compose(language, dataclasses.replace(dialect, description=other))
    with pytest.raises(CompositionError, match="encoder sha256 cdcdcdcdcdcd.*has encoder sha256"):
        compose(load_model(whisper_bundle), dataclasses.replace(dialect, description=other))
    longer = dialect.description.model_copy(update={"decision": dialect.rules.model_copy(update={"window_s": 8.0})})
    with pytest.raises(CompositionError, match="decision.window_s 8.0"):
        compose(language, dataclasses.replace(dialect, description=longer))
    assert issubclass(CompositionError, DialectidError)


# ---- one encoder pass ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def whisper_dialect_bundle(accents, tmp_path_factory):
    return train_dialect_bundle(accents, tmp_path_factory.mktemp("whisper-dialect"), "whisper-backend",
                                decision={"min_speech_s": 1.0, "low_confidence": 0.34})  # fmt: skip


def test_the_whisper_encoder_runs_once_per_window_for_language_and_dialect(whisper_bundle, whisper_dialect_bundle,
                                                                           recordings, monkeypatch):  # fmt: skip
    from dialectid.models.bundle import load_model
    from dialectid.models.whisper import WhisperEncoder

    calls = []
    encode = WhisperEncoder._encoded
    monkeypatch.setattr(WhisperEncoder, "_encoded",
                        lambda self, signal: calls.append(len(signal)) or encode(self, signal))  # fmt: skip
    # the toy back-end finds this unseen voice novel (out_of_set, no dialect split): its margin is widened here
    lenient = ScoringConfig(decision=DecisionConfig(low_confidence=0.4, open_set_margin=100))
    scorer = Scorer(load_model(whisper_bundle), lenient, dialect=load_model(whisper_dialect_bundle))
    WhisperEncoder._cache.clear()  # windows encoded by earlier tests must not count as encoded here
    measured = scorer.measure(recordings["en-US"])
    assert len(measured.windows) >= 3
    assert len(calls) == len(measured.windows)  # not twice: the head reused the language model's states
    assert measured.dialect_scores.shape == (len(measured.windows), len(ACCENTS))
    analysis = scorer.decide(measured)
    assert (analysis.top_label, analysis.status) == ("en", "ok"), analysis.status
    assert abs(sum(c.probability for c in analysis.dialects.children) - analysis.top_probability) < 1e-5


# ---- the report and the CLI ------------------------------------------------------------------------
def test_the_signed_report_shows_the_dialect_by_name_and_binds_it(stats_bundle, dialect_bundle, cautious_bundle,
                                                                   recordings, tmp_path):  # fmt: skip
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from dialectid.models.bundle import load_model
    from dialectid.report import (
        ModelFacts,
        ReportContext,
        binding_problem,
        render,
        report_binding,
        sign_pdf,
        verify_pdf,
    )

    language = load_model(stats_bundle)
    texts = {}
    for name, head in (("ok", dialect_bundle), ("uncertain", cautious_bundle)):
        dialect = load_model(head)
        analysis = Scorer(language, LENIENT, dialect=dialect).analyse(recordings["en-US"])
        context = ReportContext("C-1", "P-1", "2026-12-01T10:00:00", ModelFacts.from_bundle(language, dialect))
        key = Ed25519PrivateKey.generate()
        binding = report_binding(analysis.to_dict(), context)
        pdf = sign_pdf(render(analysis, context, "pdf"), analysis.registration_number, "toy", key, binding)
        info = verify_pdf(pdf, key.public_key())
        assert binding_problem(info, analysis.to_dict(), context) is None
        changed = analysis.to_dict()
        changed["dialects"]["children"][0]["probability"] = 0.0
        assert "analysis" in binding_problem(info, changed, context)  # the dialect figures are signed
        other = ReportContext("C-1", "P-1", "2026-12-01T10:00:00", ModelFacts.from_bundle(language))
        assert "model facts" in binding_problem(info, analysis.to_dict(), other)  # so are the dialect model's
        (tmp_path / f"{name}.pdf").write_bytes(pdf)
        texts[name] = subprocess.run(["pdftotext", "-layout", str(tmp_path / f"{name}.pdf"), "-"], check=True,
                                     capture_output=True, text=True).stdout  # fmt: skip
        html = render(analysis, context, "html")
        assert "Dialect" in html and ("English, dialect uncertain" in html) == (name == "uncertain")
    top = next(line for line in texts["ok"].splitlines() if line.strip().startswith("English — "))
    assert "%" in top and "English (" not in top  # "English — US 51.2 %": names, not codes
    flat = " ".join(texts["ok"].split())
    assert "Dialect model's test figures On 12 test clips" in flat  # its own figures, beside the language model's
    assert "Language model: " in flat and "Dialect model: " in flat  # whose limitation each one is
    assert "English, dialect uncertain" in texts["uncertain"]
    assert "No dialect is named" in texts["uncertain"]


def test_facts_stored_before_dialects_still_match_their_signature():
    from dialectid.keys import digest
    from dialectid.report import ModelFacts, ReportContext, report_binding

    old = {"name": "lid", "model": "stats-logreg", "version": "0.1.0", "bundle_sha256": "ab" * 32,
           "test_accuracy": 0.9, "test_cavg": 0.1, "test_cllr": 0.5, "test_clips": 10, "unseen_speakers": True,
           "limitations": ["x"], "test_coverage": 1.0}  # fmt: skip
    context = ReportContext("C-1", "P-1", "2026-12-01T10:00:00", ModelFacts(**old))
    assert report_binding({}, context, facts_version=None)["model_sha256"] == digest(old)  # as signed before versions


def test_score_writes_the_dialect_block_and_refuses_a_pair_that_does_not_fit(stats_bundle, dialect_bundle,
                                                                              recordings, tmp_path):  # fmt: skip
    results = tmp_path / "results.jsonl"
    base = [sys.executable, "-m", "dialectid", "score", "--model", str(stats_bundle), "--dialect-model",
            str(dialect_bundle), "--set", "decision.low_confidence=0.4"]  # fmt: skip
    command = [*base, str(recordings["en-US"]), str(recordings["es"]), "-o", str(results)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {row["path"]: row for row in map(json.loads, results.read_text().splitlines())}
    english, spanish = rows[str(recordings["en-US"])], rows[str(recordings["es"])]
    assert english["dialects"]["parent"] == "en" and spanish["dialects"] is None
    assert abs(sum(c["probability"] for c in english["dialects"]["children"]) - english["top_probability"]) < 1e-5
    single = subprocess.run([*base, str(recordings["en-US"])], capture_output=True, text=True, timeout=300)
    assert single.returncode == 0 and "dialect: English — " in single.stdout, single.stdout + single.stderr
    both = [str(recordings["en-US"]), str(recordings["es"])]
    table = subprocess.run([*base, *both], capture_output=True, text=True, timeout=300, env={**os.environ,
                                                                                              "COLUMNS": "200"})  # fmt: skip
    assert "dialect" in table.stdout and "English — " in table.stdout, table.stdout
    alone = subprocess.run([*base[:6], *both], capture_output=True, text=True, timeout=300, env={**os.environ,
                                                                                                 "COLUMNS": "200"})  # fmt: skip
    assert alone.returncode == 0 and "dialect" not in alone.stdout, alone.stdout  # without a head: as before
    wrong = [sys.executable, "-m", "dialectid", "score", "--model", str(dialect_bundle), "--dialect-model",
             str(dialect_bundle), str(recordings["en-US"])]  # fmt: skip
    refused = subprocess.run(wrong, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "which the language model" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_the_demo_finds_a_dialect_bundle_in_the_data_home_and_shows_its_result(stats_bundle, dialect_bundle,
                                                                                tmp_path, monkeypatch):  # fmt: skip
    import shutil

    from dialectid.casefile import CaseStore
    from dialectid.paths import home
    from dialectid.scoring.dialects import dialect_home_model

    monkeypatch.setenv("DIALECTID_HOME", str(tmp_path / "home"))  # not the session's: no other demo may find it
    assert dialect_home_model() is None
    shutil.copytree(dialect_bundle, home() / "models" / "dialect-arabic")
    assert dialect_home_model() == home() / "models" / "dialect-arabic"
    demo = tmp_path / "demo"
    command = [sys.executable, "-m", "dialectid", "demo", "--no-serve", "--home", str(demo),
               "--model", str(stats_bundle)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert "dialect model toy-stats-logreg" in done.stderr
    store = CaseStore(root=demo)
    cases = json.loads((demo / "DEMO.json").read_text())["cases"]
    analyses = [a for case in cases for r in store.show(case, "test").recordings for a in r.analyses]
    split = [a for a in analyses if a.dialects]
    assert split, [(a.top_label, a.status) for a in analyses]
    assert all(a.top_label == "en" and a.status in ("ok", "low_confidence") for a in split)
    assert all(a.dialects is None for a in analyses if a.top_label != "en")
    (case,) = {c for c in cases for r in store.show(c, "test").recordings for a in r.analyses if a.dialects}
    shown = subprocess.run([sys.executable, "-m", "dialectid", "case", "show", case], capture_output=True, text=True,
                           timeout=120, env={**os.environ, "DIALECTID_HOME": str(demo)})  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "dialect: English — " in shown.stdout or "dialect: English, dialect uncertain" in shown.stdout


# ---- the web view, in a real headless Chromium (test_web_browser.py's) ------------------------------
@pytest.fixture(scope="module")
def cases(tmp_path_factory, stats_bundle, dialect_bundle, cautious_bundle, recordings):
    """Two cases of one caseworker, the same English recording analysed under the two dialect heads."""
    from dialectid.casefile import CaseStore
    from dialectid.casefile.accounts import Accounts
    from dialectid.casefile.workflow import analyse_case
    from dialectid.models.bundle import load_model
    from dialectid.web import create_app, passwords

    root = tmp_path_factory.mktemp("dialect-web")
    with cheap_passwords():
        store = CaseStore(f"sqlite:///{root / 'casefile.db'}", root=root / "home")
        Accounts(store).add("carla", "caseworker", passwords.hash_password(PASSWORD, "caseworker", "carla"), "setup")
        language, made = load_model(stats_bundle), {}
        for name, head in (("named", dialect_bundle), ("uncertain", cautious_bundle)):
            case = store.new_case(f"Subject {name}", "1990-01-01", None, actor="setup").reference
            store.assign(case, "carla", "setup")
            store.add_recording(case, recordings["en-US"], "officer", "setup")
            outcome = analyse_case(store, case, language, "setup", config=LENIENT, dialect=load_model(head))
            assert outcome.reports and not outcome.failed, outcome.failed
            made[name] = case
        with serving(create_app(store, language, dialect_model=load_model(dialect_bundle))) as port:
            yield f"http://127.0.0.1:{port}", made


@pytest.mark.slow
def test_the_case_page_and_report_show_the_dialect_by_name(page, cases):  # noqa: F811 - page: a fixture
    from playwright.sync_api import expect

    server, made = cases
    log_in(page, server, "carla", f"/cases/{made['named']}")
    block = page.locator("article.analysis .dialect")
    expect(block.locator(".dialect-headline")).to_contain_text("Dialect: English — US ")
    expect(block.locator("table.dialects tr")).to_have_count(3)
    expect(block).to_contain_text("English — GB-scotland")
    expect(page.locator("p.signature.valid")).to_contain_text("Signature: valid")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    block.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "dialect-case-page.png"), full_page=False)
    page.click("text=Read the report")
    report = page.locator("section.report section.dialect")
    expect(report.locator(".dialect-headline")).to_contain_text("English — US ")
    expect(report).to_contain_text("their probabilities sum to it")
    report.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "dialect-report.png"), full_page=False)

    page.goto(f"{server}/cases/{made['uncertain']}")
    block = page.locator("article.analysis .dialect")
    expect(block.locator(".dialect-headline")).to_have_text("Dialect: English, dialect uncertain")
    expect(block).to_contain_text("No dialect is named")
    block.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "dialect-uncertain-case-page.png"), full_page=False)


def test_case_analyse_takes_a_dialect_model_and_the_web_view_refuses_a_pair_that_does_not_fit(
    stats_bundle, dialect_bundle, recordings, tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    from dialectid.casefile import CaseStore
    from dialectid.cli import app
    from dialectid.web import create_app

    runner = CliRunner()
    monkeypatch.setenv("DIALECTID_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DIALECTID_DATABASE_URL", raising=False)
    created = runner.invoke(app, ["case", "new", "--identity-from-stdin"], input="A B\n1990-01-01\n")
    reference = created.stdout.split()[1]
    added = runner.invoke(app, ["case", "add-recording", reference, str(recordings["en-US"]), "--recorded-by", "x"])
    assert added.exit_code == 0, added.output
    wrong = runner.invoke(app, ["case", "analyse", reference, "--model", str(dialect_bundle), "--dialect-model",
                                str(dialect_bundle)])  # fmt: skip
    assert wrong.exit_code != 0 and "which the language model" in wrong.stderr and "Traceback" not in wrong.output
    analysed = runner.invoke(app, ["case", "analyse", reference, "--model", str(stats_bundle), "--dialect-model",
                                   str(dialect_bundle)])  # fmt: skip
    assert "1 analysed, 1 reports attached" in analysed.stdout, analysed.output
    shown = json.loads(runner.invoke(app, ["case", "show", reference, "--json"]).stdout)
    (analysis,) = shown["recordings"][0]["analyses"]
    # the toy language model's own 0.5 line: English at 48 % is low_confidence, so no dialect may be named
    assert (analysis["top_label"], analysis["status"]) == ("en", "low_confidence")
    block = analysis["dialects"]
    assert (block["status"], block["top_dialect"]) == ("dialect_uncertain", None)
    assert block["reason"] == "the language itself is uncertain (low_confidence)"
    report = tmp_path / "report.pdf"
    assert runner.invoke(app, ["case", "export-report", reference, "-o", str(report)]).exit_code == 0
    assert runner.invoke(app, ["report", "verify", str(report)]).exit_code == 0
    text = subprocess.run(["pdftotext", str(report), "-"], check=True, capture_output=True, text=True).stdout
    assert "English, dialect uncertain" in text
    with pytest.raises(CompositionError):
        create_app(CaseStore(root=tmp_path / "web"), stats_bundle, dialect_model=stats_bundle)
