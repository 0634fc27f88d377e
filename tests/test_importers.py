from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from corpora import (
    SHARED_CORPORA,
    adi17_tree,
    asterisk_tree,
    clip,
    commonvoice_tree,
    folder_tree,
    random_bytes,
    shared_tree,
    timit_tree,
    voxlingua_tree,
    write_tsv,
)
from dialectid.data import ManifestError, import_corpus

ASTERISK = Path("/usr/share/asterisk/sounds")


def by_id(utterances):
    return {u.id: u for u in utterances}


def test_folder(tmp_path):
    utts = by_id(import_corpus("folder", folder_tree(tmp_path), {"language": "xx"}))
    assert set(utts) == {"en/s1/utt0", "en/s1/more/utt0", "en/s2/utt1", "en/s2/more/utt1",
                         "fr/s3/utt0", "fr/s3/more/utt0"}  # fmt: skip
    first = utts["en/s1/more/utt0"]
    assert (first.label, first.speaker, first.language, first.channel) == ("en", "en/s1", "xx", "wideband")
    assert first.duration_s == pytest.approx(0.4) and Path(first.path).is_file()
    assert import_corpus("folder", tmp_path, {"speaker_depth": "0"})[0].speaker is None


def test_csv_with_mapped_columns(tmp_path):
    clip(tmp_path / "a.wav")
    clip(tmp_path / "sub" / "b.wav", rate=8000)
    listing = write_tsv(tmp_path / "list.csv", [
        {"file": "a.wav", "dialect_label": "gulf", "who": "p1", "sex": "male", "secs": ""},
        {"file": "sub/b.wav", "dialect_label": "levantine", "who": "p2", "sex": "F", "secs": "0.4"},
    ], delimiter=",")  # fmt: skip
    options = {"path": "file", "label": "dialect_label", "speaker": "who", "gender": "sex", "duration_s": "secs"}
    a, b = import_corpus("csv", listing, options)
    assert (a.id, a.label, a.speaker, a.gender, a.duration_s, a.channel) == (
        "a.wav",
        "gulf",
        "p1",
        "m",
        0.4,
        "wideband",
    )
    assert (b.label, b.gender, b.duration_s) == ("levantine", "f", 0.4)


def test_csv_errors_name_file_line_and_columns(tmp_path):
    listing = write_tsv(tmp_path / "list.csv", [{"file": "a.wav", "lab": "x"}], delimiter=",")
    with pytest.raises(ManifestError, match=r"list.csv line 1: missing column\(s\) path, label; found: file, lab"):
        import_corpus("csv", listing)
    with pytest.raises(ManifestError, match=r"list.csv line 2: listed file a.wav does not exist"):
        import_corpus("csv", listing, {"path": "file", "label": "lab"})


def test_commonvoice(tmp_path):
    root = commonvoice_tree(tmp_path / "en")
    utts = by_id(import_corpus("commonvoice", root))
    assert [utts[i].split for i in ("c1", "c2", "c3", "c4")] == ["train", "train", "dev", "test"]
    assert (utts["c1"].speaker, utts["c1"].gender, utts["c1"].label, utts["c1"].language) == ("spkA", "f", "en", "en")
    assert utts["c3"].gender == "m" and utts["c4"].gender is None
    assert utts["c4"].duration_s == pytest.approx(0.4, abs=0.06)  # not in clip_durations.tsv: probed
    accents = by_id(import_corpus("commonvoice", root, {"label": "accent"}))
    assert set(accents) == {"c1", "c3", "c4"}  # c2 has no accent
    assert accents["c3"].label == "Scottish English"
    both = import_corpus("commonvoice", root, {"label": "locale+accent", "include": "validated"})
    assert {u.label for u in both} == {"en:England English", "en:Scottish English", "en:India"}
    with pytest.raises(ManifestError, match="label must be one of"):
        import_corpus("commonvoice", root, {"label": "age"})


def test_voxlingua107(tmp_path):
    utts = import_corpus("voxlingua107", voxlingua_tree(tmp_path))
    assert [(u.label, u.speaker) for u in utts] == [("ar", "yt:AbCdEfGhIjK")] * 2 + [("de", "yt:ZyXwVuTsRqP")]


def test_adi17(tmp_path):
    utts = by_id(import_corpus("adi17", adi17_tree(tmp_path)))
    egy = utts["train/vidEGY01_000100-000500"]
    assert (egy.label, egy.language, egy.speaker, egy.split, egy.extra) == (
        "EGY", "ar", "yt:vidEGY01", "train", {"region": "egyptian"})  # fmt: skip
    assert utts["dev/vidSYR09_000000-000400"].label == "SYR"
    assert utts["test/vidKSA07_000000-000400"].extra == {"region": "gulf"}


def test_adi17_label_file_errors(tmp_path):
    root = adi17_tree(tmp_path)
    clip(root / "dev" / "unlabelled_000-001.wav")
    with pytest.raises(ManifestError, match="not listed in .*dev.txt"):
        import_corpus("adi17", root)
    (root / "dev" / "unlabelled_000-001.wav").unlink()
    (root / "dev" / "dev.txt").write_text("vidSYR09_000000-000400 SYR\nghost_1-2 EGY\n")
    with pytest.raises(ManifestError, match="'ghost_1-2' is listed but dev/ghost_1-2.wav does not exist"):
        import_corpus("adi17", root)


def test_timit_both_layouts_and_sphere_audio(tmp_path):
    utts = by_id(import_corpus("timit", timit_tree(tmp_path)))
    assert set(utts) == {"fcjf0/sa1", "mdab0/si1039", "mxyz0/sx11"}
    first = utts["fcjf0/sa1"]
    assert (first.label, first.gender, first.split, first.extra["region"]) == ("DR1", "f", "train", "New England")
    assert first.duration_s == pytest.approx(0.4)  # a NIST SPHERE file, decoded
    assert (utts["mdab0/si1039"].split, utts["mxyz0/sx11"].label) == ("test", "DR3")


def test_asterisk_layout(tmp_path):
    utts = import_corpus("asterisk", asterisk_tree(tmp_path))
    counts = Counter((u.label, u.speaker) for u in utts)
    assert counts == {("en-US", "allison"): 2, ("es-MX", "allison"): 2, ("it-IT", "carlo"): 2,
                      ("it-IT", "menardi"): 2, ("es-CO", "es-co-prompts"): 2, ("fr-FR", "armelle"): 2}  # fmt: skip
    assert not any("silence" in u.id for u in utts)
    gsm = [u for u in utts if u.extra["codec"] == "gsm"]
    assert len(gsm) == 4 and all(u.duration_s == pytest.approx(0.4) and u.channel == "telephone" for u in gsm)


def test_asterisk_real_packages():
    """The packages .ci/run installs: every voice counted once, GSM prompts decoded."""
    assert ASTERISK.is_dir(), "install the asterisk sound packages (scripts/install.sh does)"
    utts = import_corpus("asterisk", ASTERISK)
    speakers = {(u.label, u.speaker) for u in utts}
    assert speakers == {("en-US", "allison"), ("es-MX", "allison"), ("es-CO", "es-co-prompts"),
                        ("fr-CA", "june"), ("fr-FR", "armelle"), ("it-IT", "carlo"), ("it-IT", "menardi"),
                        ("ru-RU", "ivrvoiceru")}  # fmt: skip
    paths = [u.path for u in utts]
    assert len(paths) == len(set(paths)) and not any("/en/" in p or "/it/" in p for p in paths)
    assert len(utts) > 3000 and sum(u.duration_s for u in utts) > 2 * 3600
    assert all(u.channel == "telephone" for u in utts)


def test_shared_layout(tmp_path):
    utts = import_corpus("shared", shared_tree(tmp_path), {"language": "en"})
    assert [(u.label, u.speaker, u.gender, u.duration_s) for u in utts] == [
        ("DR1", "fvmh0", "f", 0.4), ("DR1", "mcpm0", "m", 0.4), ("DR2", "faem0", "f", 0.4)]  # fmt: skip
    assert utts[0].extra == {"source_file": "orig/fvmh0.wav"}


@pytest.mark.needs_shared("timit_nltk_sample")
def test_shared_real_timit_sample():
    utts = import_corpus("shared", SHARED_CORPORA / "timit_nltk_sample")
    assert len(utts) == 160 and len({u.speaker for u in utts}) == 16
    assert {u.label for u in utts} == {f"DR{i}" for i in range(1, 9)}


def test_unknown_importer_and_options(tmp_path):
    with pytest.raises(
        ManifestError, match="unknown importer 'espnet'; known importers: adi17, arabic_dialects, asterisk"
    ):
        import_corpus("espnet", tmp_path)
    with pytest.raises(ManifestError, match=r"unknown option\(s\) colour; allowed: language, speaker_depth"):
        import_corpus("folder", tmp_path, {"colour": "red"})


def test_empty_and_missing_corpora(tmp_path):
    with pytest.raises(ManifestError, match="no recordings found for the 'folder' layout"):
        import_corpus("folder", tmp_path)
    with pytest.raises(ManifestError, match="no such corpus folder"):
        import_corpus("timit", tmp_path / "nope")


def test_unusable_files_are_left_out_and_reported(tmp_path):
    from dialectid.data.importers import Skipped

    folder_tree(tmp_path)
    bad = random_bytes(tmp_path / "en" / "s1" / "broken.wav")
    empty = tmp_path / "en" / "s2" / "header-only.wav"
    import soundfile as sf

    sf.write(empty, np.zeros(0, dtype=np.float32), 16000)
    skipped: list[Skipped] = []
    utts = import_corpus("folder", tmp_path, skipped=skipped)
    assert len(utts) == 6
    assert skipped == [
        Skipped(str(bad), "not a recognised audio format"),
        Skipped(str(empty), "holds no audio samples"),
    ]


def test_adi17_unknown_dialects(tmp_path):
    root = adi17_tree(tmp_path)
    (root / "dev" / "dev.txt").write_text("vidSYR09_000000-000400 SYRIA\n")
    with pytest.raises(ManifestError, match=r"dev.txt line 1: unknown dialect 'SYRIA'; ADI-17 dialects: ALG, EGY"):
        import_corpus("adi17", root)
    clip(root / "train" / "Klingon" / "x_1-2.wav")
    with pytest.raises(ManifestError, match=r"train/Klingon: unknown dialect 'Klingon'"):
        import_corpus("adi17", root)


def test_expected_labels(tmp_path):
    folder_tree(tmp_path)
    assert len(import_corpus("folder", tmp_path, labels=["en", "fr"])) == 6
    with pytest.raises(ManifestError, match=r"fr/s3/.*: unknown label 'fr'; expected one of en, de"):
        import_corpus("folder", tmp_path, labels=["en", "de"])
