"""`dialectid doctor`: check that the installation's native pieces load and compute."""

from __future__ import annotations

from dialectid.cli.common import out, user_errors


@user_errors
def doctor() -> None:
    """Decode, compute features, run Silero VAD, the Whisper encoder and torch once each; exit 2
    with one line naming the first piece that fails."""
    from dialectid.doctor import run_checks

    run_checks(lambda check, versions: out.print(f"ok  {check.name:<9} {check.what}: {versions}", markup=False))
