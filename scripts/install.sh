#!/usr/bin/env bash
# Install dialectid and everything it needs on Debian/Ubuntu: system packages, then a virtual
# environment in .venv with the toolkit, every extra (train, ray, web: the test extra brings them)
# and the test tools, ruff and mypy included, at exactly the versions in constraints.txt (the
# versions the tests passed with; scripts/lock.sh refreshes them). An operator who only scores
# needs none of the extras: `pip install dialectid` (README, "Install"). Ends with
# `dialectid doctor`, which fails loudly when a native piece does not load. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# python3-venv: the virtual environment; espeak-ng: synthetic speech for the tests; fonts-dejavu-core:
# report fonts for every script; poppler-utils: the tests render reports to images;
# the asterisk packages: real telephone speech in five languages (CC BY-SA 3.0 / GPL), used by
# the `asterisk` importer, its tests and the default model's training; chromium: the web view's
# end-to-end tests drive it through Playwright (which never downloads a browser of its own here).
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    python3 python3-venv espeak-ng fonts-dejavu-core poppler-utils chromium \
    asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav \
    asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav asterisk-prompt-es-co \
    asterisk-prompt-fr-armelle asterisk-prompt-it-menardi-wav >/dev/null

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --constraint constraints.txt --upgrade pip
.venv/bin/python -m pip install --quiet --constraint constraints.txt -e '.[test]'
.venv/bin/python -m pip check >/dev/null || { .venv/bin/python -m pip check; echo "install: pip check failed" >&2; exit 1; }
.venv/bin/dialectid doctor >/dev/null || { echo "install: a native piece does not load (above); nothing was run" >&2; exit 1; }
echo "dialectid installed in .venv: locked versions, pip check and dialectid doctor passed"
