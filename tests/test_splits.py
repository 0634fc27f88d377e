from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpora import clip
from dialectid.data import Manifest, Utterance, check_splits, groups, label_stats, loso_folds, split_utterances
from dialectid.data.manifest import ManifestError


def corpus(speakers_per_label: dict[str, int], clips: int = 4) -> list[Utterance]:
    return [
        Utterance(
            id=f"{label}-{s}-{i}",
            path=f"{label}/{s}/{i}.wav",
            label=label,
            speaker=f"{label}{s}",
            duration_s=1.0 + (i % 3),
            sha256=f"{label}-{s}-{i}",
        )
        for label, n in speakers_per_label.items()
        for s in range(n)
        for i in range(clips)
    ]


def assert_disjoint(parts):
    seen_speakers, seen_hashes = {}, {}
    for name, utts in parts.items():
        for u in utts:
            assert seen_speakers.setdefault(u.speaker, name) == name, f"speaker {u.speaker} leaks"
            assert seen_hashes.setdefault(u.sha256, name) == name, f"audio {u.sha256} leaks"


def test_split_is_speaker_disjoint_stratified_and_near_the_fractions():
    utts = corpus({"gulf": 10, "levantine": 10, "egyptian": 20})
    parts = split_utterances(utts, dev=0.1, test=0.2, seed=0)
    assert_disjoint(parts)
    assert sum(len(p) for p in parts.values()) == len(utts)
    for name, share in (("dev", 0.1), ("test", 0.2)):
        assert {u.label for u in parts[name]} == {"gulf", "levantine", "egyptian"}
        for label in ("gulf", "levantine", "egyptian"):
            total = sum(u.duration_s for u in utts if u.label == label)
            got = sum(u.duration_s for u in parts[name] if u.label == label)
            assert got / total == pytest.approx(share, abs=0.1)
    assert all(u.split == name for name, p in parts.items() for u in p)


def test_split_is_reproducible_from_the_seed():
    utts = corpus({"a": 8, "b": 8})
    assert split_utterances(utts, seed=3) == split_utterances(utts, seed=3)
    assert split_utterances(utts, seed=3) != split_utterances(utts, seed=4)


def test_identical_audio_under_two_speakers_stays_together():
    utts = corpus({"a": 6})
    twin = Utterance(id="copy", path="x.wav", label="a", speaker="other", sha256=utts[0].sha256, duration_s=1)
    grouped = groups([*utts, twin])
    assert any({"a0", "other"} <= {u.speaker for u in g} for g in grouped)
    assert_disjoint(split_utterances([*utts, twin], seed=1))


def test_labels_with_few_speakers_keep_training_data():
    parts = split_utterances(corpus({"one": 1, "two": 2}), dev=0.1, test=0.2)
    assert Counter(u.label for u in parts["train"]) == {"one": 4, "two": 4}
    assert {u.label for u in parts["test"]} == {"two"} and parts["dev"] == []


def test_bad_fractions():
    with pytest.raises(ManifestError, match="split fractions"):
        split_utterances(corpus({"a": 3}), dev=0.5, test=0.6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 6), st.integers(0, 8)), min_size=1, max_size=40),
       st.integers(0, 5))  # fmt: skip
def test_any_corpus_splits_without_leaks(rows, seed):
    utts = [Utterance(id=f"u{i}", path="x", label=label, speaker=f"s{spk}", sha256=f"h{h}", duration_s=1.0)
            for i, (label, spk, h) in enumerate(rows)]  # fmt: skip
    parts = split_utterances(utts, dev=0.2, test=0.2, seed=seed)
    assert_disjoint(parts)
    assert sorted(u.id for p in parts.values() for u in p) == sorted(u.id for u in utts)
    assert {u.label for u in parts["train"]} == {u.label for u in utts}


def test_leave_one_speaker_out():
    utts = corpus({"a": 2, "b": 2}, clips=2)
    folds = loso_folds(utts)
    assert sorted(folds) == ["a0", "a1", "b0", "b1"]
    for name, fold in folds.items():
        assert {u.speaker for u in fold["test"]} == {name}
        assert name not in {u.speaker for u in fold["train"]}
        assert len(fold["train"]) + len(fold["test"]) == len(utts)


def test_check_finds_speaker_and_audio_leaks(tmp_path):
    shared = clip(tmp_path / "same.wav")
    copy = tmp_path / "copy.wav"
    copy.write_bytes(shared.read_bytes())
    other = clip(tmp_path / "other.wav", seed=5)
    train = Manifest((Utterance(id="t1", path="same.wav", label="a", speaker="x"),
                      Utterance(id="t2", path="other.wav", label="a", speaker="y")), tmp_path)  # fmt: skip
    test = Manifest((Utterance(id="e1", path=str(copy), label="a", speaker="z"),
                     Utterance(id="e2", path=str(other), label="b", speaker="y")), tmp_path)  # fmt: skip
    findings = check_splits({"train": train, "test": test})
    assert any("speaker 'y' occurs in train (1 files) and test (1 files)" in e for e in findings.errors)
    assert any("identical audio" in e and "same.wav" in e and "copy.wav" in e for e in findings.errors)
    assert any("label 'b' is in test but not in the first (training) split" in w for w in findings.warnings)
    clean = check_splits(
        {"train": Manifest(train.utterances[:1], tmp_path), "test": Manifest(test.utterances[1:], tmp_path)}
    )
    assert clean.errors == []
    assert any("label 'b' has only 1 speaker" in w for w in clean.warnings)


def test_label_statistics_and_imbalance():
    utts = corpus({"big": 4}, clips=10) + corpus({"small": 1}, clips=2)
    stats, warnings = label_stats(Manifest(tuple(utts), None))
    rows = {s.label: s for s in stats}
    assert (rows["big"].clips, rows["big"].speakers) == (40, 4)
    seconds = defaultdict(float)
    for u in utts:
        seconds[u.label] += u.duration_s
    assert rows["small"].hours == pytest.approx(seconds["small"] / 3600)
    assert any("'small' has" in w and "less audio than 'big'" in w for w in warnings)
    assert any("'small' has 1 speaker(s)" in w for w in warnings)
