"""Import any lhotse corpus recipe by name: ``lhotse.recipes.prepare_<name>``, no download.

The user brings the corpus as distributed; :func:`import_recipe` calls the recipe on it and writes
one manifest directory per split (``OUT/<split>/recordings.jsonl.gz`` ...). Nested outputs (Common
Voice: language, then split) become nested folders (``OUT/en/train``). CutSets a recipe returns
beside the splits (VoxCeleb trials) are written as ``OUT/<key>/cuts_<i>.jsonl.gz``.

Options are the recipe's keyword arguments; strings (from ``--opt key=value``) are converted to the
type of the parameter's default (``parts=noise,music`` becomes a list, ``num_jobs=4`` an int).

Example:
    >>> "librispeech" in list_recipes() and "musan" in list_recipes()
    True
    >>> recipe_options("musan")["parts"]
    "('music', 'speech', 'noise')"
"""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lhotse import CutSet, RecordingSet, SupervisionSet

from speechdl.data.manifests import save_manifests
from speechdl.errors import ConfigError, DataError

_NOT_OPTIONS = {"output_dir"}


def _recipes_module():
    import lhotse.recipes

    return lhotse.recipes


def list_recipes() -> list[str]:
    """Names of the installed lhotse recipes (``prepare_<name>`` functions), sorted."""
    mod = _recipes_module()
    return sorted(n[len("prepare_"):] for n in dir(mod) if n.startswith("prepare_") and callable(getattr(mod, n)))


def _prepare_fn(name: str):
    mod = _recipes_module()
    fn = getattr(mod, f"prepare_{name.replace('-', '_')}", None)
    if fn is None or not callable(fn):
        raise DataError(None, f"unknown lhotse recipe {name!r}; available: {', '.join(list_recipes())}",
                        "pick a name from that list")
    return fn


def _corpus_param(params: dict[str, inspect.Parameter]) -> str:
    if "corpus_dir" in params:
        return "corpus_dir"
    for p in params:
        if p not in _NOT_OPTIONS and (p.endswith("_dir") or p.endswith("_root") or p.endswith("_path")):
            return p
    raise DataError(None, "cannot tell which argument of this recipe is the corpus directory",
                    f"pass --corpus-arg, one of: {', '.join(params)}")


def recipe_options(name: str) -> dict[str, str]:
    """The recipe's keyword arguments and their defaults as text (``"required"`` when none)."""
    params = inspect.signature(_prepare_fn(name)).parameters
    return {k: "required" if p.default is inspect.Parameter.empty else repr(p.default)
            for k, p in params.items()}


def _coerce(value: Any, param: inspect.Parameter) -> Any:
    if not isinstance(value, str):
        return value
    default, ann = param.default, param.annotation
    low = value.strip().lower()
    if ann in (str, "str"):
        return value
    if isinstance(default, bool) or ann in (bool, "bool"):
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigError(None, f"option {param.name}={value!r} is not a boolean", "use true or false")
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        if isinstance(default, kind) or ann in (kind, kind.__name__):
            try:
                return kind(value)
            except ValueError:
                raise ConfigError(None, f"option {param.name}={value!r} is not a number",
                                  f"give a {kind.__name__}") from None
    if isinstance(default, list | tuple) or "," in value:
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _leaf(obj: Any) -> tuple[RecordingSet, SupervisionSet | None] | None:
    if isinstance(obj, RecordingSet):
        return obj, None
    if isinstance(obj, dict) and isinstance(obj.get("recordings"), RecordingSet):
        return obj["recordings"], obj.get("supervisions")
    if isinstance(obj, dict) and isinstance(obj.get("cuts"), CutSet):
        recs, sups, _ = obj["cuts"].decompose()
        return recs, sups
    if isinstance(obj, tuple | list) and len(obj) == 2 and isinstance(obj[0], RecordingSet):
        return obj[0], obj[1]
    return None


def _walk(obj: Any, key: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    leaf = _leaf(obj)
    if leaf is not None:
        yield key, leaf
    elif isinstance(obj, CutSet):
        yield key, obj
    elif isinstance(obj, tuple | list) and obj and all(isinstance(c, CutSet) for c in obj):
        for i, cuts in enumerate(obj, 1):
            yield (*key, f"cuts_{i}"), cuts
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, (*key, str(k)))


def normalise_output(result: Any, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write a recipe's return value as manifest directories under ``out_dir``.

    Returns ``{split: path}`` where ``split`` is the '/'-joined key path (``"train"``,
    ``"en/dev"``; ``"all"`` when the recipe returned a single set without splits).
    """
    out = Path(out_dir)
    written: dict[str, Path] = {}
    for key, item in _walk(result, ()):
        name = "/".join(key) or "all"
        if isinstance(item, CutSet):
            path = out.joinpath(*key[:-1], f"{key[-1] if key else 'cuts'}.jsonl.gz")
            if not path.name.startswith("cuts"):
                path = path.with_name(f"cuts_{path.name}")
            path.parent.mkdir(parents=True, exist_ok=True)
            item.to_file(path)
            written[name] = path
            continue
        recordings, supervisions = item
        if recordings is None or len(recordings) == 0:
            continue
        written[name] = save_manifests(out.joinpath(*key), recordings, supervisions)
    if not written:
        raise DataError(out, "the recipe produced no recordings",
                        "check that CORPUS_DIR holds the corpus as distributed (see docs/data.md)")
    return written


def import_recipe(
    name: str,
    corpus_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    corpus_arg: str | None = None,
    **options: Any,
) -> dict[str, Path]:
    """Run ``lhotse.recipes.prepare_<name>`` on ``corpus_dir`` and save its splits under ``out_dir``.

    ``corpus_arg`` names the recipe argument that receives ``corpus_dir`` (guessed:
    ``corpus_dir``, else the first ``*_dir``/``*_root`` argument, e.g. ``voxceleb1_root``).
    ``options`` are passed to the recipe (strings are converted, see the module doc). Returns
    ``{split: manifest directory}``. Unknown names and options raise with the valid choices.
    """
    fn = _prepare_fn(name)
    params = dict(inspect.signature(fn).parameters)
    corpus = Path(corpus_dir)
    if not corpus.is_dir():
        raise DataError(corpus, "corpus directory not found", "download the corpus first, then pass its folder")
    target = corpus_arg or _corpus_param(params)
    if target not in params:
        raise ConfigError(None, f"recipe {name!r} has no argument {target!r}", f"use one of: {', '.join(params)}")
    kwargs: dict[str, Any] = {target: str(corpus)}
    for key, value in options.items():
        if key not in params or key in _NOT_OPTIONS or key == target:
            valid = [p for p in params if p not in _NOT_OPTIONS and p != target]
            raise ConfigError(None, f"recipe {name!r} has no option {key!r}", f"valid options: {', '.join(valid)}")
        kwargs[key] = _coerce(value, params[key])
    missing = [k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in kwargs
               and k not in _NOT_OPTIONS]
    if missing:
        raise ConfigError(None, f"recipe {name!r} needs {', '.join(missing)}",
                          " ".join(f"--opt {k}=..." for k in missing))
    out = Path(out_dir)
    scratch = None
    if "output_dir" in params and params["output_dir"].default is inspect.Parameter.empty:
        out.mkdir(parents=True, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix=".lhotse-", dir=out)  # the recipe insists on writing somewhere
        kwargs["output_dir"] = scratch
    try:
        result = fn(**kwargs)
    except (OSError, ValueError, AssertionError, KeyError, IndexError, RuntimeError, StopIteration) as err:
        msg = str(err).splitlines()[0] if str(err) else ""
        raise DataError(corpus, f"lhotse recipe {name!r} failed ({type(err).__name__}: {msg})",
                        "check that CORPUS_DIR holds the corpus as distributed (see docs/data.md)") from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return normalise_output(result, out)
