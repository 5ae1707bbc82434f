"""Generate the display's voice pack: short clips it plays in sequence when a device has no voice.

    python scripts/make_voice_pack.py [--out static/voice/default] [--format opus|mp3|wav]

Offline, from Debian's packages (`apt-get install espeak-ng festival festvox-us-slt-hts sox
opus-tools`; `lame` for --format mp3):
- Mandarin: espeak-ng's `cmn` voice, fed pinyin with tone numbers (Debian's espeak-ng data knows
  few Chinese characters) and reading Latin letters the way Chinese speakers name them (A "ei").
- English: Festival with the CMU ARCTIC "slt" HTS voice, far more natural than espeak-ng's
  English; espeak-ng `en-us` when Festival or the voice is missing (the manifest says which).

Each clip is trimmed of silence, peak-normalised, 24 kHz mono, then encoded (Opus at 24 kbit/s
by default). `manifest.json` maps each clip name to its file, language, text and duration; the
display composes announcements from these names (static/js/lib/voice.js), so a store's own
recordings in static/voice/custom/ use the same names (see static/voice/README.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "static" / "voice" / "default"
RATE = 24000
OPUS_KBPS = 24
MP3_KBPS = 32
ESPEAK_SPEED = 130  # words per minute: announcements are read slowly and clearly
LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]

ZH_DIGITS = "零一二三四五六七八九"
ZH_PINYIN = ["ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"]
ZH_WORDS = {  # name: (text shown, pinyin spoken)
    "qing": ("请", "qing3"),
    "hao": ("号", "hao4"),
    "dao": ("到", "dao4"),
    "hao-chuangkou": ("号窗口", "hao4 chuang1 kou3"),
}
EN_NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
EN_NUMBERS += ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"]
EN_NUMBERS += ["seventeen", "eighteen", "nineteen"]
EN_TENS = {20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy"}
EN_TENS |= {80: "eighty", 90: "ninety"}
EN_WORDS = {"number": "Number", "please-go-to-counter": "please go to counter"}
# Festival reads a lone "A" as the article ("uh"): spell the letter name instead.
EN_SPELL = {"A": "eigh"}


@dataclass(frozen=True)
class Clip:
    name: str  # what the display asks for: zh-0, zh-A, en-number ...
    lang: str  # zh or en
    text: str  # what it says, as written
    say: str  # what the engine is given


def clips() -> list[Clip]:
    out = [Clip(f"zh-{name}", "zh", text, say) for name, (text, say) in ZH_WORDS.items()]
    out += [Clip(f"zh-{d}", "zh", ZH_DIGITS[d], ZH_PINYIN[d]) for d in range(10)]
    out.append(Clip("zh-10", "zh", "十", "shi2"))
    out += [Clip(f"zh-{c}", "zh", c, c) for c in LETTERS]
    out += [Clip(f"en-{name}", "en", text, text) for name, text in EN_WORDS.items()]
    out += [Clip(f"en-{n}", "en", word, word) for n, word in enumerate(EN_NUMBERS)]
    out += [Clip(f"en-{n}", "en", word, word) for n, word in EN_TENS.items()]
    out += [Clip(f"en-{c}", "en", c, EN_SPELL.get(c, c)) for c in LETTERS]
    return out


def run(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def have_festival_slt() -> bool:
    if not shutil.which("text2wave"):
        return False
    return bool(list(Path("/usr/share/festival/voices").glob("us/cmu_us_slt_arctic_hts")))


def synth(clip: Clip, wav: Path, english_engine: str) -> None:
    if clip.lang == "zh":
        # Letters: the cmn voice names them as Chinese speakers do; words: pinyin with tones.
        voice = "cmn" if len(clip.say) == 1 else "cmn-latn-pinyin"
        run("espeak-ng", "-v", voice, "-s", str(ESPEAK_SPEED), "-w", str(wav), clip.say)
    elif english_engine == "festival":
        run(
            "text2wave",
            "-eval",
            "(voice_cmu_us_slt_arctic_hts)",
            "-o",
            str(wav),
            stdin=clip.say + "\n",
        )
    else:
        run("espeak-ng", "-v", "en-us", "-s", str(ESPEAK_SPEED), "-w", str(wav), clip.say)


def tidy(raw: Path, wav: Path) -> float:
    """Silence trimmed at both ends (a few ms kept), peak at -2 dBFS, 24 kHz mono 16-bit (no
    dither: its noise is random, and a regenerated pack should be byte-identical)."""
    trim = ["silence", "1", "0.005", "-55d"]
    run(
        "sox", "-D", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav),
        *trim, "reverse", *trim, "reverse", "gain", "-n", "-2", "pad", "0.015", "0.03",
    )  # fmt: skip
    return float(run("soxi", "-D", str(wav)).strip())


def encode(wav: Path, target: Path, fmt: str, serial: int) -> None:
    if fmt == "opus":
        # A fixed stream serial and no encoder tag keep a regenerated pack byte-identical.
        run(
            "opusenc", "--quiet", "--speech", "--bitrate", str(OPUS_KBPS), "--serial",
            str(serial), "--discard-comments", "--padding", "0", str(wav), str(target),
        )  # fmt: skip
    elif fmt == "mp3":
        mp3 = ["-m", "m", "-b", str(MP3_KBPS), "--noreplaygain"]
        run("lame", "--quiet", *mp3, str(wav), str(target))
    else:
        shutil.copyfile(wav, target)


def engine_versions(english_engine: str) -> dict[str, str]:
    espeak = run("espeak-ng", "--version").split(":")[1].split("Data")[0].strip()
    zh = f"espeak-ng {espeak}, voice cmn"
    if english_engine == "festival":
        festival = run("festival", "--version").split(":")[2].strip()
        return {"zh": zh, "en": f"festival {festival}, voice cmu_us_slt_arctic_hts"}
    return {"zh": zh, "en": f"espeak-ng {espeak}, voice en-us"}


def check_tools(fmt: str) -> None:
    needed = ["espeak-ng", "sox", "soxi", *{"opus": ["opusenc"], "mp3": ["lame"]}.get(fmt, [])]
    missing = [tool for tool in needed if not shutil.which(tool)]
    if missing:
        sys.exit(
            f"missing: {', '.join(missing)}. Install them with\n"
            "  apt-get install espeak-ng festival festvox-us-slt-hts sox opus-tools lame"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--format", choices=["opus", "mp3", "wav"], default="opus")
    parser.add_argument("--english", choices=["festival", "espeak"], default=None)
    args = parser.parse_args(argv)
    check_tools(args.format)
    english = args.english or ("festival" if have_festival_slt() else "espeak")
    if english == "festival" and not have_festival_slt():
        sys.exit("Festival's cmu_us_slt_arctic_hts voice is missing (festvox-us-slt-hts)")

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():  # a clean pack: no clip left from an earlier format or list
        if old.suffix in {".opus", ".mp3", ".wav"}:
            old.unlink()
    entries: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for serial, clip in enumerate(clips(), start=1):
            raw, wav = Path(tmp) / f"{clip.name}.raw.wav", Path(tmp) / f"{clip.name}.wav"
            synth(clip, raw, english)
            duration = tidy(raw, wav)
            target = out / f"{clip.name}.{args.format}"
            encode(wav, target, args.format, serial)
            entries[clip.name] = {
                "file": target.name,
                "lang": clip.lang,
                "text": clip.text,
                "duration": round(duration, 3),
            }
    manifest = {
        "version": 1,
        "engines": engine_versions(english),
        "format": args.format,
        "clips": entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"{len(entries)} clips, {size / 1024:.0f} KiB in {out}")


if __name__ == "__main__":
    main()
