"""The catalogue is the one table of names: complete, importable, free of import circles; the CLI starts light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from speechdl import catalog
from speechdl.registry import import_object

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "speechdl"
DECORATORS = {"register": catalog.ARCHITECTURES, "register_task": catalog.TRAIN_TASKS,
              "register_dataset": catalog.DATASETS}


def _registrations() -> list[tuple[str, str, str]]:
    """(decorator, name, module) of every ``@register*("name")`` / ``register("name")(cls)`` in the package."""
    out = []
    for p in PKG.rglob("*.py"):
        module = ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(p.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in DECORATORS
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                out.append((node.func.id, node.args[0].value, module))
    return out


def test_every_registration_is_in_the_catalogue_under_its_module():
    regs = [r for r in _registrations() if r[1] not in ("my_task", "round")]   # docstring examples
    assert regs
    for deco, name, module in regs:
        table = DECORATORS[deco]
        assert name in table, f"{module}: {deco}({name!r}) is missing from speechdl/catalog.py"
        assert table[name].split(":")[0] == module, f"catalogue names {table[name]} for {name!r}, defined in {module}"


@pytest.mark.parametrize("table", ["ARCHITECTURES", "TRAIN_TASKS", "DATASETS", "PIPELINES"])
def test_every_catalogue_entry_imports(table):
    for name, spec in getattr(catalog, table).items():
        assert import_object(spec) is not None, f"{table}[{name!r}] = {spec}"


def test_every_cli_group_module_has_register():
    for name, (module, help_line) in catalog.CLI_GROUPS.items():
        assert callable(import_object(f"{module}:register")), name
        assert help_line


def test_no_import_circles_inside_the_package():
    mods = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p for p in PKG.rglob("*.py")}

    def owner(name: str) -> str:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text())):   # function-level imports count too
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("speechdl"):
                names = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("speechdl")]
            graph[m] |= {owner(n) for n in names} - {m, ""}
    # a cycle exists iff some module reaches itself
    def reaches(start: str) -> bool:
        seen, todo = set(), list(graph[start])
        while todo:
            n = todo.pop()
            if n == start:
                return True
            if n not in seen:
                seen.add(n)
                todo += graph.get(n, ())
        return False

    assert [m for m in graph if reaches(m)] == []


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_help_and_version_import_neither_torch_nor_lightning(argv):
    code = (f"import sys\nfrom speechdl.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'lightning', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
