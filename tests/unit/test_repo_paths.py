"""Recipes, bundles, code and docs name no build machine's folders; recipes resolve through the data roots."""

from __future__ import annotations

import re
from pathlib import Path

from speechdl.paths import expand
from speechdl.train.config import RecipeConfig

ROOT = Path(__file__).resolve().parents[2]
ABSOLUTE = re.compile(r"(?<![\w.$}])/(work|root|home)/")


def test_no_absolute_build_machine_paths():
    hits = []
    for sub in ("speechdl", "recipes", "benchmarks", "docs", "examples", "scripts"):
        for p in (ROOT / sub).rglob("*"):
            if p.suffix in (".py", ".yaml", ".json", ".md") and p.is_file():
                for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
                    if ABSOLUTE.search(line):
                        hits.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()[:80]}")
    assert not hits, "\n".join(hits)


def test_recipe_data_paths_resolve_under_the_work_root(monkeypatch, tmp_path):
    monkeypatch.setenv("SPEECHDL_WORK", str(tmp_path))
    cfg = RecipeConfig.load(ROOT / "recipes/vad/lstm.yaml")
    assert cfg.data.kwargs["val_manifests"] == f"{tmp_path}/vad/dev"
    assert all(m.startswith(str(tmp_path)) for m in cfg.data.kwargs["manifests"])


def test_expand_leaves_other_text_alone(monkeypatch):
    monkeypatch.setenv("SPEECHDL_DATA", "/d")
    assert expand("${SPEECHDL_DATA}/real_dev and ${HOME} $SPEECHDL_DATA") == "/d/real_dev and ${HOME} $SPEECHDL_DATA"
