"""A generator of bad and odd inputs for batch scoring: every class the fault-injection review
tried, the ones issue #15 found broken and the ones that already held.

`make_inputs(folder, good)` writes one file (or makes one path) per class and returns
{class name: path}; `good` is a real recording the odd-but-valid classes are made from.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from audiofactory import speechlike, write

RATE = 16000


def wav_bytes(tag=1, channels=1, rate=RATE, bits=16, payload=b"\x00\x10" * 8000, declared=None, before=b"") -> bytes:
    """A hand-made RIFF WAV: any format tag, channel count or rate, chunks before `fmt `, any data size."""
    block = max(1, channels * bits // 8)
    fmt = struct.pack("<HHIIHH", tag, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    body = b"WAVE" + before + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(payload) if declared is None else declared) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _pcm(seconds: float, rate: int = RATE) -> bytes:
    return (speechlike(seconds, rate, seed=3) * 32767).astype("<i2").tobytes()


def _float_wav(path: Path, samples: np.ndarray) -> None:
    sf.write(path, samples.astype(np.float32), RATE, subtype="FLOAT")


def _cut(fraction: float) -> Callable[[Path, Path], None]:
    def make(path: Path, source: Path) -> None:
        data = source.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return make


def _overwrite_middle(path: Path, source: Path, count: int = 2000) -> None:
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + count] = np.random.default_rng(7).bytes(min(count, len(data) - middle))
    path.write_bytes(bytes(data))


def make_inputs(folder: Path, good: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    speech = speechlike(4.0, RATE, seed=5)
    encoded = {}
    for name, suffix in (("flac", ".flac"), ("ogg_vorbis", ".ogg"), ("mp3", ".mp3"), ("m4a_aac", ".m4a"),
                         ("amr", ".amr"), ("webm_opus", ".webm")):  # fmt: skip
        rate = 8000 if name == "amr" else 48000 if name == "webm_opus" else RATE
        encoded[name] = write(folder / f"source-{name}{suffix}", speechlike(6.0, rate, seed=2), rate, name)
    paths: dict[str, Path] = {}

    def add(name: str, filename: str | bytes, make: Callable[[Path], object] | None) -> None:
        path = Path(os.fsdecode(os.fsencode(folder) + b"/" + os.fsencode(filename)))
        if make is not None:
            make(path)
        paths[name] = path

    # --- paths that are not regular files
    add("missing", "missing.wav", None)
    add("directory", "a-folder.wav", lambda p: p.mkdir())
    add("fifo", "pipe.wav", os.mkfifo)
    add("dangling symlink", "dangling.wav", lambda p: p.symlink_to(folder / "nowhere.wav"))
    add("symlink to a folder", "to-folder.wav", lambda p: p.symlink_to(folder))
    paths["/dev/zero"] = Path("/dev/zero")
    paths["/dev/null"] = Path("/dev/null")
    # --- files that are not audio
    add("zero bytes", "empty.wav", lambda p: p.touch())
    add("random bytes", "noise.wav", lambda p: p.write_bytes(np.random.default_rng(0).bytes(20000)))
    add("random bytes as mp3", "noise.mp3", lambda p: p.write_bytes(np.random.default_rng(1).bytes(20000)))
    add("text", "notes.wav", lambda p: p.write_text("this is not audio\n" * 100))
    add("json", "data.wav", lambda p: p.write_text(json.dumps({"audio": [0.1] * 500})))
    add("gzip", "packed.wav", lambda p: p.write_bytes(gzip.compress(good.read_bytes())))
    add("png header", "picture.mp3", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(5000)))
    add("RIFF but not WAVE", "avi.wav", lambda p: p.write_bytes(b"RIFF\x00\x10\x00\x00AVI " + bytes(4096)))
    # --- WAV headers that lie or break
    add("header only", "header-only.wav", lambda p: p.write_bytes(wav_bytes(payload=b"")))
    add("truncated header", "cut-header.wav", lambda p: p.write_bytes(wav_bytes()[:22]))
    add(
        "no fmt chunk",
        "no-fmt.wav",
        lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEdata\x10\x00\x00\x00" + bytes(16)),
    )
    add("65535 channels", "channels.wav", lambda p: p.write_bytes(wav_bytes(channels=65535)))
    add("zero channels", "no-channels.wav", lambda p: p.write_bytes(wav_bytes(channels=0)))
    add("rate 0", "rate0.wav", lambda p: p.write_bytes(wav_bytes(rate=0)))
    add("rate 1 Hz", "rate1.wav", lambda p: p.write_bytes(wav_bytes(rate=1)))
    add("rate 4 GHz", "rate-huge.wav", lambda p: p.write_bytes(wav_bytes(rate=4_000_000_000)))
    add("unknown codec tag", "codec.wav", lambda p: p.write_bytes(wav_bytes(tag=0x1234)))
    add("odd bits", "bits.wav", lambda p: p.write_bytes(wav_bytes(bits=13)))
    add("fmt after 8 KiB LIST", "late-fmt.wav",
        lambda p: p.write_bytes(wav_bytes(payload=_pcm(3), before=b"LIST" + struct.pack("<I", 8000) + bytes(8000))))  # fmt: skip
    add(
        "data size beyond the file",
        "truncated.wav",
        lambda p: p.write_bytes(wav_bytes(payload=_pcm(3), declared=len(_pcm(6)))),
    )
    add(
        "data size placeholder",
        "streamed.wav",
        lambda p: p.write_bytes(wav_bytes(payload=_pcm(3), declared=0xFFFFFFFF)),
    )
    add("garbage after data", "tail.wav", lambda p: p.write_bytes(wav_bytes(payload=_pcm(3)) + b"JUNKJUNK" * 300))
    add(
        "chunk size loop",
        "loop.wav",
        lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEJUNK\xf0\xff\xff\xff" + bytes(64)),
    )
    # --- samples that break arithmetic
    add("NaN samples", "nan.wav", lambda p: _float_wav(p, np.full(RATE * 2, np.nan)))
    add("inf samples", "inf.wav", lambda p: _float_wav(p, np.full(RATE * 2, np.inf)))
    add("overflowing stereo", "huge.wav",
        lambda p: _float_wav(p, np.stack([np.sin(np.arange(5 * RATE) / 3) * 3e38] * 2, axis=1)))  # fmt: skip
    add("all silence", "silence.wav", lambda p: sf.write(p, np.zeros(RATE * 3), RATE))
    add("DC only", "dc.wav", lambda p: sf.write(p, np.full(RATE * 3, 0.5), RATE))
    add("50 ms", "blip.wav", lambda p: sf.write(p, speech[: RATE // 20], RATE))
    add("half a second", "short.wav", lambda p: sf.write(p, speech[: RATE // 2], RATE))
    add("clipped square", "square.wav", lambda p: sf.write(p, np.sign(np.sin(np.arange(RATE * 3) / 9)), RATE))
    add("loud noise", "white.wav", lambda p: sf.write(p, np.random.default_rng(2).uniform(-1, 1, RATE * 3), RATE))
    # --- damaged compressed files
    add("damaged mp3", "damaged.mp3", lambda p: _overwrite_middle(p, encoded["mp3"]))
    add("cut flac", "cut.flac", lambda p: _cut(0.5)(p, encoded["flac"]))
    add("flac of 30 bytes", "tiny.flac", lambda p: _cut(30 / encoded["flac"].stat().st_size)(p, encoded["flac"]))
    add("damaged flac", "damaged.flac", lambda p: _overwrite_middle(p, encoded["flac"]))
    add("cut ogg", "cut.ogg", lambda p: _cut(0.4)(p, encoded["ogg_vorbis"]))
    add("cut m4a", "cut.m4a", lambda p: _cut(0.5)(p, encoded["m4a_aac"]))
    add("damaged m4a", "damaged.m4a", lambda p: _overwrite_middle(p, encoded["m4a_aac"], 500))
    add("cut amr", "cut.amr", lambda p: _cut(0.5)(p, encoded["amr"]))
    add("cut webm", "cut.webm", lambda p: _cut(0.5)(p, encoded["webm_opus"]))
    # --- odd but valid files and names
    add("flac named .wav", "really-flac.wav", lambda p: shutil.copy(encoded["flac"], p))
    add("no extension", "no-extension", lambda p: shutil.copy(good, p))
    add("upper-case extension", "LOUD.WAV", lambda p: shutil.copy(good, p))
    add("hidden file", ".hidden.wav", lambda p: shutil.copy(good, p))
    add("name not UTF-8", b"\xff\xfe-caf\xe9.wav", lambda p: shutil.copy(good, p))
    add("CR in name", "a\rb.wav", lambda p: shutil.copy(good, p))
    add("newline and comma in name", "c\n,d.wav", lambda p: shutil.copy(good, p))
    add("quotes in name", "say \"hi\" 'there'.wav", lambda p: shutil.copy(good, p))
    add("markup and emoji codes in name", ":smile: [bold]x[red].wav", lambda p: shutil.copy(good, p))
    add("255-byte name", "n" * 251 + ".wav", lambda p: shutil.copy(good, p))
    add("symlink to a recording", "link.wav", lambda p: p.symlink_to(good))
    add("hard link to a recording", "hard.wav", lambda p: os.link(good, p))
    add("8 kHz mu-law", "mulaw.wav", lambda p: sf.write(p, speechlike(4.0, 8000, seed=4), 8000, subtype="ULAW"))
    add("48 kHz stereo", "stereo.wav", lambda p: sf.write(p, np.stack([speech] * 2, axis=1), RATE * 3))
    add("six channels", "surround.wav", lambda p: sf.write(p, np.stack([speech] * 6, axis=1), RATE))
    add("24-bit", "deep.wav", lambda p: sf.write(p, speech, RATE, subtype="PCM_24"))
    for source in encoded.values():
        source.unlink()
    return paths
