import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from conftest import islands
from corpora import folder_tree
from dialectid.cli import app

SAMPLE = Path(__file__).resolve().parent.parent / "datasets" / "samples" / "telephone-en.wav"
REQUIRED = {"path", "sha256", "format", "codec", "sample_rate", "channels", "duration_s", "speech_s",
            "segments", "snr_db", "clipping_ratio", "bandwidth_hz", "flags", "status"}  # fmt: skip
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(map(str, args)))


def test_bundled_sample_table():
    result = invoke("inspect", SAMPLE)
    assert result.exit_code == 0, result.output
    for text in ("telephone-en.wav", "pcm_mulaw", "8 kHz", "telephone_band", "ok"):
        assert text in result.stdout


def test_json_lines_have_every_field(tmp_path, speech_clips):
    signal, spans = islands(speech_clips, [1.0, 1.0, 1.0])
    path = tmp_path / "two.flac"
    sf.write(path, signal, 16000)
    result = invoke("inspect", "--json", path, SAMPLE)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["path"] for row in rows] == [str(path), str(SAMPLE)]
    assert set(rows[0]) >= REQUIRED
    assert rows[0]["format"] == "flac" and rows[0]["sample_rate"] == 16000
    assert len(rows[0]["segments"]) >= 2 and rows[0]["status"] == "warn"


def test_bad_files_become_error_rows_and_the_run_goes_on(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all" * 100)
    result = invoke("inspect", "--json", tmp_path / "missing.wav", junk, SAMPLE)
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["status"] for row in rows] == ["error", "error", "ok"]
    assert "no such file" in rows[0]["error"] and "not a recognised audio format" in rows[1]["error"]
    assert rows[1]["error_type"] == "UnknownFormatError"


def test_table_reports_errors_on_stderr(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.touch()
    result = invoke("inspect", empty, SAMPLE)
    assert result.exit_code == 1
    assert f"error: {empty}: the file has zero bytes" in result.stderr
    assert "Traceback" not in result.output


def test_config_errors_exit_2_with_one_line(tmp_path):
    result = invoke("inspect", SAMPLE, "--set", "vad.methd=energy")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "vad.methd" in result.stderr
    result = invoke("inspect", SAMPLE, "--config", tmp_path / "nope.yaml")
    assert result.exit_code == 2 and "cannot read the config" in result.stderr


def test_settings_change_the_result(tmp_path):
    result = invoke("inspect", "--json", SAMPLE, "--set", "quality.speech_s.warn=600")
    row = json.loads(result.stdout)
    assert row["status"] == "warn" and "at least 600 s is recommended" in row["reasons"][0]


def test_real_process_no_traceback(tmp_path):
    """The installed entry point, as an operator runs it."""
    noise = tmp_path / "noise.bin"
    noise.write_bytes(np.random.default_rng(0).bytes(4000))
    result = subprocess.run(
        [sys.executable, "-m", "dialectid", "inspect", str(noise), str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"error: {noise}: not a recognised audio format" in result.stderr
    assert f"error: {tmp_path}: is a directory" in result.stderr


MARKUP_NAMES = ("a[/b].wav", "[bold]x[/bold].wav")  # Rich reads these as tags: a stray close, a swallowed style


def _markup_files(folder, content: bytes | None = None):
    paths = [folder / name for name in MARKUP_NAMES]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if content is not None else b"not audio" * 100)
    return paths


def _shown(result, *paths, stream: str = "stdout"):
    """Every path appears where a person reads it (error lines, never markup, do not count), as it is,
    and no markup error turned into a traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    shown = getattr(result, stream).replace("\n", "")
    for path in paths:
        assert str(path) in shown, (path, result.output)


def test_file_names_that_look_like_markup_are_shown_as_they_are(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short relative names, so no table folds them
    real = _markup_files(Path("real"), SAMPLE.read_bytes())
    junk = _markup_files(Path("junk"))
    _shown(invoke("inspect", *real, *junk), *real, *junk)
    _shown(invoke("score", junk[1]), junk[1])  # one file: the analysis, headed by its name
    _shown(invoke("score", *junk, "-o", "[red]rows[/red].jsonl"), Path("[red]rows[/red].jsonl"), stream="stderr")
    _shown(invoke("score", *junk), *junk)  # several files: the table
    result = invoke("data", "import", "folder", folder_tree(Path("corpus")), "-o", "[i]a[/i].jsonl")
    _shown(result, Path("[i]a[/i].jsonl"))


def test_a_block_size_that_would_take_forever_is_refused():
    """1e-9 s blocks made a 4 s file take 38 s (a block per sample); a quarter second costs nothing measurable."""
    for command in (["inspect", SAMPLE, "--set", "ingest.block_s=1e-9"],
                    ["score", SAMPLE, "--set", "audio.ingest.block_s=0.001"]):  # fmt: skip
        result = invoke(*command)
        assert result.exit_code == 2 and "block_s" in result.stderr and result.stderr.count("\n") == 1, result.output
    assert invoke("inspect", SAMPLE, "--set", "ingest.block_s=0.25").exit_code == 0


# ---- help text (#27) ------------------------------------------------------------------------------
def _help_texts(command, names=()):
    """(command path, text) for the help of `command`, each of its options and every subcommand."""
    yield " ".join(names), command.help or ""
    for param in command.params:
        yield " ".join(names), getattr(param, "help", None) or ""
    for name, sub in getattr(command, "commands", {}).items():
        yield from _help_texts(sub, (*names, name))


def test_no_help_text_is_taken_for_rich_markup():
    """Typer renders help as Rich markup: "Model bundle [models/lid-accurate]." was shown as "Model
    bundle ." (a lower-case word in brackets is a tag), so the defaults were lost."""
    import typer.main
    from rich.text import Text

    texts = list(_help_texts(typer.main.get_command(app)))
    assert len(texts) > 100  # every command was walked
    eaten = [(where, text) for where, text in texts if Text.from_markup(text).plain != text]
    assert eaten == []


def test_defaults_show_in_help():
    for args, default in [(["case", "analyse"], "(default: $DIALECTID_MODEL, else $DIALECTID_HOME/models/lid-accurate"),
                          (["features", "extract"], "(default: $DIALECTID_HOME/features)"),
                          (["case", "export-report"], "(default: the latest report)"),
                          (["audit", "verify"], "(default: the store's key)"),
                          (["report", "verify"], "(default: the store's key)")]:  # fmt: skip
        result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "400"})
        assert result.exit_code == 0, result.output
        assert default in result.stdout, result.stdout
