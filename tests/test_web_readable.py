"""What a person reads in the web view (#25, caseworker items 4, 6 and 9): recordings by a name,
not a hash; a result column in the case list; assignment from the same list on every page; an
audit trail in sentences with its details on demand; and a telephone codec the browser cannot
play (GSM) served as a PCM WAV rendition of the verified recording, under the same access rules."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from dialectid.names import label_name
from dialectid.web import WebSettings, create_app
from webapp import log_in, page_csrf, world_of

GSM = Path(__file__).resolve().parents[1] / "datasets" / "samples" / "fr-FR-vm-options.gsm"
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


@pytest.fixture(scope="module")
def world(tmp_path_factory, stats_bundle, toy_corpus):
    with world_of(tmp_path_factory.mktemp("readable"), stats_bundle, toy_corpus) as made:
        made.gsm = made.store.add_recording(made.cases["carla"], GSM, "officer 7", "setup")["sha256"]
        yield made


@pytest.fixture
def client(world):
    app = create_app(world.store, world.bundle, WebSettings())
    made = []

    def as_user(name: str) -> TestClient:
        browser = TestClient(app, follow_redirects=False)
        made.append(browser)
        log_in(browser, name)
        return browser

    yield as_user
    for browser in made:
        browser.close()


def outside_details(html: str) -> str:
    """The page's text without its <details> blocks: what a reader sees before asking for more."""
    return re.sub(r"<[^>]+>", "", re.sub(r"<details.*?</details>", "", html, flags=re.S))


def test_the_case_list_has_a_result_column(world, client):
    page = client("carla").get("/cases").text
    assert "<th>Result</th>" in page
    analysis = world.store.show(world.cases["carla"], "test").recordings[0].analyses[0]
    row = re.search(rf"<tr>\s*<td><a href=\"/cases/{world.cases['carla']}\">.*?</tr>", page, flags=re.S).group(0)
    words = {"low_confidence": "no clear language", "out_of_set": "another language (out of set)",
             "insufficient_speech": "too little speech"}  # fmt: skip
    expected = label_name(analysis.top_label) if analysis.status == "ok" else words[analysis.status]
    assert expected in row
    assert "not analysed yet" in row  # the GSM recording added after the analysis


def test_recordings_are_named_for_people_not_by_their_hash(world, client):
    page = client("carla").get(f"/cases/{world.cases['carla']}").text
    headings = re.findall(r"<section class=\"recording\">\s*<h3>(.*?)</h3>", page, flags=re.S)
    assert [h.split("·")[0].strip() for h in headings] == ["Recording 1", "Recording 2"]
    assert not any(world.gsm[:12] in h for h in headings)


def test_the_case_page_assigns_from_the_same_list_as_the_admin_page(world, client):
    page = client("anna").get(f"/cases/{world.cases['carla']}").text
    form = re.search(r'<form class="case-assignee".*?</form>', page, flags=re.S).group(0)
    assert 'name="assignee"' in form and "<select" in form and '<input name="assignee"' not in form
    options = re.findall(r"<option[^>]*>([^<]*)</option>", form)
    admin = client("adam").get("/admin/cases").text
    admin_options = re.findall(r"<option[^>]*>([^<]*)</option>", re.search(r'<form class="assign".*?</form>', admin,
                                                                           flags=re.S).group(0))  # fmt: skip
    assert options == admin_options == ["nobody", "carla", "colin"]
    assert re.search(r"<option selected>carla</option>", form)


def test_the_audit_trail_reads_as_sentences_with_details_on_demand(world, client):
    carla = client("carla")
    case, number = world.cases["carla"], world.numbers["carla"]
    form = {"registration_number": number, "agreement": "agree", "comment": "fits the interview"}
    carla.post(f"/cases/{case}/feedback", data={**form, "csrf_token": page_csrf(carla)})
    page = carla.get(f"/cases/{case}/audit").text
    seen = outside_details(page)
    for raw in ("{'", "identity: False", "identity: True", "_hmac", "sha256:", ": None", ": True", ": False"):
        assert raw not in page, raw
    assert not HEX64.search(seen), "a digest is shown outside the details"
    assert f"carla gave feedback on analysis {number}: agrees with the result, with a comment" in seen
    assert "setup added Recording 1" in seen and "setup added Recording 2" in seen
    assert "setup assigned the case to carla" in seen and "carla viewed the case" in seen
    assert f"setup analysed Recording 1 (analysis {number})" in seen
    assert page.count("<details") >= 3 and "<details open" not in page


def test_a_gsm_recording_plays_as_wav_under_the_same_rules_as_the_original(world, client):
    case = world.cases["carla"]
    carla = client("carla")
    page = carla.get(f"/cases/{case}").text
    playable = f"/cases/{case}/recordings/{world.gsm}/playable"
    assert f'src="{playable}"' in page  # the player gets the rendition; the original stays a download
    assert f'href="/cases/{case}/recordings/{world.gsm}"' in page
    before = len(world.store.events(case))
    answer = carla.get(playable)
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/wav", answer.text[:200]
    assert [e.action for e in world.store.events(case)[before:]] == ["recording played"]
    samples, rate = sf.read(io.BytesIO(answer.content))
    original = world.store.recording(case, world.gsm)
    assert rate == 8000 and abs(len(samples) / rate - original.duration_s) < 0.05
    ranged = carla.get(playable, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and len(ranged.content) == 100
    assert len(world.store.events(case)) == before + 1  # the player's further ranges are not audited again
    # colin is not assigned to carla's case: the same answer as for the original, and audited
    colin = client("colin")
    for url in (playable, f"/cases/{case}/recordings/{world.gsm}"):
        refused = colin.get(url)
        assert refused.status_code == 404 and "among the cases you may see" in refused.text
    assert [e.actor for e in world.store.events(case) if e.action == "access denied"][-2:] == ["colin"] * 2


def test_the_walkthrough_pictures_are_readable_crops_without_a_black_frame():
    """#25 item 7: the walkthrough's pictures are made by the browser tests from the current demo
    (test_web_browser), each cropped to what it shows: shown at their own size (no shrinking a
    whole page into the column), of a height one can take in, and without the black box that an
    unpainted PDF frame leaves."""
    import numpy as np
    from PIL import Image

    web = Path(__file__).resolve().parents[1] / "src" / "dialectid" / "web"
    template = (web / "templates" / "walkthrough.html.j2").read_text()
    images = re.findall(r'<img src="/static/(walkthrough/[^"]+\.png)"([^>]*)>', template)
    assert len(images) >= 3, images
    for name, attributes in images:
        picture = Image.open(web / "static" / name)
        width, height = picture.size
        assert width <= 940 and height <= 1400, (name, picture.size)  # the page's column: 980 px less padding
        assert "width=" not in attributes or f'width="{width}"' in attributes, (name, "shown shrunk")
        grey = np.asarray(picture.convert("L"))
        assert (grey < 40).mean() < 0.05, f"{name}: {100 * (grey < 40).mean():.0f} % of it is black"
