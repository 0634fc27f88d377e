"""`dialectid doctor`: the install script's smoke check of every native piece."""

from typer.testing import CliRunner

from dialectid import doctor
from dialectid.cli import app

runner = CliRunner()


def test_every_native_piece_loads_and_computes():
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert [line.split()[1] for line in result.stdout.splitlines()] == [c.name for c in doctor.CHECKS]


def test_a_piece_that_does_not_load_is_one_line_and_exit_2(monkeypatch):
    def broken(folder):
        raise OSError("libtorchaudio.so: undefined symbol: torch_exception_get_what_without_backtrace\nmore")

    checks = list(doctor.CHECKS)
    checks[1] = doctor.Check("features", "Kaldi filterbanks and MFCC", broken)
    monkeypatch.setattr(doctor, "CHECKS", tuple(checks))
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 2
    assert result.stdout.startswith("ok  decoders") and "features" not in result.stdout
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert (
        "error: features: Kaldi filterbanks and MFCC failed (OSError: libtorchaudio.so: undefined symbol"
        in result.stderr
    )
