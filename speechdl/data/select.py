"""Select utterances of a manifest by their attributes (``speechdl data select``).

Training and evaluation sets are cut out of one corpus by attribute filters, e.g. the real English of
``real_dev`` without one game (held out for evaluation)::

    speechdl data select $SPEECHDL_DATA/real_dev --where language=en --where source!=drascula \\
        --text --max-duration 20 --out data/asr/train_real

A filter is ``KEY=V1,V2`` (keep) or ``KEY!=V1,V2`` (drop); several are ANDed. Keys are the
supervision's ``id``, ``recording``, ``speaker``, ``language``, ``gender``, ``text`` and its scalar
``custom`` values (real_dev: ``source``); a missing attribute never matches ``=``. The output keeps
the selected supervisions and only the recordings they refer to. ``--speaker-from actor`` relabels the
speaker by a ``custom`` field where it is set (real_dev: the person who speaks, so that two game characters
of one voice actor become one speaker ``actor:<name>``); rows without it keep their speaker.

Example:
    >>> key, equal, values = parse_select("source!=drascula,alsa-utils")
    >>> key, equal, sorted(values)
    ('source', False, ['alsa-utils', 'drascula'])
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from lhotse import RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.utils import fastcopy

from speechdl.errors import ConfigError, DataError

Filter = tuple[str, bool, frozenset[str]]


def parse_select(expr: str) -> Filter:
    """``"source=a,b"`` -> ``("source", True, {"a", "b"})``; ``"speaker!=x"`` -> ``("speaker", False, {"x"})``."""
    neg = "!=" in expr
    key, sep, values = expr.partition("!=" if neg else "=")
    vals = frozenset(v.strip() for v in values.split(",") if v.strip())
    if not sep or not key.strip() or not vals:
        raise ConfigError("--select", f"expected KEY=V1,V2 or KEY!=V1,V2 (got {expr!r})",
                          "e.g. --select source=asterisk-core-sounds-en-wav")
    return key.strip(), not neg, vals


def supervision_attrs(s: SupervisionSegment) -> dict[str, str]:
    """The attributes filters see: ids, speaker, language, gender, text and scalar ``custom`` values."""
    attrs = {"id": s.id, "recording": s.recording_id}
    attrs.update({k: str(v) for k, v in (("speaker", s.speaker), ("language", s.language),
                                         ("gender", s.gender), ("text", s.text)) if v})
    attrs.update({k: str(v) for k, v in (s.custom or {}).items() if isinstance(v, str | int | float)})
    return attrs


def passes(attrs: Any, filters: list[Filter]) -> bool:
    """True when ``attrs`` (anything with ``.get(key)``: a dict, a mix ``Clip``) passes every filter."""
    return all((attrs.get(key) in vals) == keep for key, keep, vals in filters)


def load_any(path: str | os.PathLike) -> tuple[RecordingSet, SupervisionSet | None]:
    """Manifests of a manifest directory, or of a real_dev folder (``manifest.jsonl``, imported on the fly)."""
    from speechdl.data.importers import import_real_dev
    from speechdl.data.manifests import RECORDINGS, load_manifests

    p = Path(path)
    if p.is_dir() and (p / "manifest.jsonl").is_file() and not (p / RECORDINGS).is_file():
        imp = import_real_dev(p, kinds=("speech",))
        return imp.recordings, imp.supervisions
    return load_manifests(p)


def select_manifests(recordings: RecordingSet, supervisions: SupervisionSet | None, where: list[str],
                     min_duration: float = 0.0, max_duration: float = float("inf"),
                     with_text: bool = False, text_split: str | None = None) -> tuple[RecordingSet, SupervisionSet]:
    """The supervisions passing ``where`` (and the duration range / having text / in the text split of
    :func:`speechdl.data.synth.text.text_split_of`) and their recordings."""
    from speechdl.data.synth.text import TEXT_SPLITS, text_split_of

    if text_split not in (None, *TEXT_SPLITS):
        raise ConfigError("--text-split", f"unknown split {text_split!r}", "use train or eval")
    filters = [parse_select(w) for w in where]
    keep = [s for s in (supervisions or []) if passes(supervision_attrs(s), filters)
            and min_duration <= s.duration <= max_duration and (not with_text or (s.text or "").strip())
            and (text_split is None or text_split_of(s.text or "") == text_split)]
    ids = {s.recording_id for s in keep}
    recs = RecordingSet.from_recordings(r for r in recordings if r.id in ids)
    return recs, SupervisionSet.from_segments(keep)


def relabel_speakers(supervisions: SupervisionSet, field: str) -> SupervisionSet:
    """Speaker ``f"{field}:{custom[field]}"`` wherever the supervision's ``custom[field]`` is set.

    Example:
        >>> s = SupervisionSegment("a", "r", 0.0, 1.0, speaker="fotaq:joe", custom={"actor": "Brad Lavelle"})
        >>> relabel_speakers(SupervisionSet.from_segments([s]), "actor")[0].speaker
        'actor:Brad Lavelle'
    """
    out = []
    for s in supervisions:
        value = (s.custom or {}).get(field)
        if value not in (None, ""):
            custom = {**(s.custom or {}), "character": s.speaker} if s.speaker else s.custom
            s = fastcopy(s, speaker=f"{field}:{value}", custom=custom)
        out.append(s)
    return SupervisionSet.from_segments(out)


def run(args: argparse.Namespace) -> int:
    """Handler of ``speechdl data select``."""
    from speechdl.console import emit
    from speechdl.data.manifests import manifest_stats, save_manifests, stats_table

    recs, sups = load_any(args.manifest)
    recs, sups = select_manifests(recs, sups, args.where or [], args.min_duration, args.max_duration, args.text,
                                  args.text_split)
    if args.speaker_from:
        sups = relabel_speakers(sups, args.speaker_from)
    if len(sups) == 0:
        raise DataError(args.manifest, f"no utterance passes --where {' '.join(args.where or [])}",
                        "check the keys and values (see 'speechdl data info')")
    path = save_manifests(args.out, recs, sups)
    stats = manifest_stats(recs, sups)
    emit({"out": str(path), **stats}, args.format,
         table=[{"field": "written to", "value": str(path)}, *stats_table(stats)])
    return 0


def add_select(verbs: Any) -> None:
    """Register ``speechdl data select``."""
    from speechdl.console import add_format_option

    p = verbs.add_parser("select", help="keep the utterances of a manifest that match attribute filters",
                         description=__doc__.split("\n\n")[0])
    p.add_argument("manifest", type=Path, help="manifest directory or a real_dev folder")
    p.add_argument("--where", action="append", metavar="KEY=V1,V2",
                   help="keep (KEY=...) or drop (KEY!=...) utterances; repeatable, ANDed")
    from speechdl import validate

    p.add_argument("--min-duration", type=validate.flag("--min-duration", "float", 0), default=0.0,
                   help="shortest utterance kept (s)")
    p.add_argument("--max-duration", type=validate.flag("--max-duration", "float", 0, example=30),
                   default=float("inf"), help="longest utterance kept (s; default: no limit)")
    p.add_argument("--text", action="store_true", help="keep only utterances with a transcript")
    p.add_argument("--text-split", choices=["train", "eval"], default=None,
                   help="keep only utterances whose transcript is in this split of the sentence corpus "
                        "(as 'data synth --text-split'): drops training utterances that read evaluation text")
    p.add_argument("--speaker-from", default=None, metavar="FIELD",
                   help="relabel speakers by this custom field where it is set (real_dev: actor, the person who "
                        "speaks; filters still see the original speaker)")
    p.add_argument("--out", type=validate.dir_arg("--out", path=True), required=True, help="output manifest directory")
    add_format_option(p)
    p.set_defaults(func=run)
