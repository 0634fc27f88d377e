import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialectid.data import ManifestError, Utterance, read_manifest, write_manifest


def utt(i: int, **kw) -> Utterance:
    return Utterance(id=f"u{i}", path=f"audio/u{i}.wav", label="en", speaker=f"s{i % 2}", duration_s=1.5, **kw)


def test_round_trip_keeps_every_field(tmp_path):
    rich = utt(1, sha256="ab" * 32, language="en", dialect="en-GB", gender="f", channel="telephone",
               split="train", source="test", extra={"region": "north", "n": 3})  # fmt: skip
    path = tmp_path / "m.jsonl"
    assert write_manifest(path, [rich, utt(2)], source_base=tmp_path) == 2
    manifest = read_manifest(path)
    assert manifest.utterances == (rich, utt(2))
    assert manifest.path_of(rich) == tmp_path / "audio" / "u1.wav"


def test_paths_are_relocated_for_a_manifest_elsewhere(tmp_path):
    write_manifest(tmp_path / "a" / "m.jsonl", [utt(1)], source_base=tmp_path)
    moved = tmp_path / "b" / "c" / "m.jsonl"
    write_manifest(moved, read_manifest(tmp_path / "a" / "m.jsonl"), source_base=tmp_path)
    stored = json.loads(moved.read_text())["path"]
    assert stored == str(tmp_path / "audio" / "u1.wav")  # outside the new folder: absolute
    inside = tmp_path / "m2.jsonl"
    write_manifest(inside, [utt(1)], source_base=tmp_path)
    assert json.loads(inside.read_text())["path"] == "audio/u1.wav"  # under it: relative
    beside = tmp_path / "repo" / "datasets" / "m.jsonl"  # a corpus beside a checkout: kept relative
    write_manifest(beside, [utt(1)], source_base=tmp_path, relative_within=tmp_path)
    assert json.loads(beside.read_text())["path"] == "../../audio/u1.wav"
    assert read_manifest(beside).path_of(read_manifest(beside).utterances[0]) == beside.parent / "../../audio/u1.wav"


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (['{"id": "a", "path": "x.wav", "label": "en"}', "{not json"], r"line 2: not valid JSON"),
        (['{"id": "a", "path": "x.wav"}'], r"line 1: missing field\(s\) label"),
        (['{"id": "a", "path": "x.wav", "label": "en", "lable": "x"}'], r"line 1: unknown field\(s\) lable"),
        (['{"id": "a", "path": "x.wav", "label": "en"}', "", '{"id": "a", "path": "y.wav", "label": "fr"}'],
         r"line 3: duplicate id 'a' \(first on line 1\)"),
        (['{"id": "a", "path": "x.wav", "label": "en", "channel": "radio"}'], r"line 1: channel must be"),
        (['{"id": "a", "path": "x.wav", "label": "en", "duration_s": -1}'], r"line 1: duration_s must be"),
        (['["a", "b"]'], r"line 1: expected a JSON object"),
        ([""], r"the manifest is empty"),
    ],
)  # fmt: skip
def test_bad_manifests_name_file_and_line(tmp_path, lines, match):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ManifestError, match=match) as caught:
        read_manifest(path)
    assert str(path) in caught.value.message and "\n" not in caught.value.message


def test_unknown_labels_and_missing_files(tmp_path):
    path = tmp_path / "m.jsonl"
    write_manifest(path, [utt(1)], source_base=tmp_path)
    with pytest.raises(ManifestError, match=r"line 1: unknown label 'en'; known labels: fr, de"):
        read_manifest(path, labels=["fr", "de"])
    with pytest.raises(ManifestError, match=r"line 1: listed file audio/u1.wav does not exist"):
        read_manifest(path, check_files=True)


def test_missing_manifest(tmp_path):
    with pytest.raises(ManifestError, match="no such manifest"):
        read_manifest(tmp_path / "nope.jsonl")


json_values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3), max_leaves=5)  # fmt: skip


@given(st.dictionaries(st.sampled_from(["id", "path", "label", "speaker", "duration_s", "channel", "extra", "x"]),
                       json_values, max_size=8))  # fmt: skip
def test_any_record_is_an_utterance_or_a_manifest_error(record):
    try:
        Utterance.from_dict(record, "m line 1")
    except ManifestError as error:
        assert error.message.startswith("m line 1:")
