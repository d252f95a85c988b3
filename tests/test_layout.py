"""The house rules of the package layout, checked on the source (README, "Development").

Data flows one way: nothing in data/ imports the LLM or tuning code, nothing below cli/ imports
cli/, no import cycles between modules, nothing private imported across modules, and modules and
functions stay small enough to read in one sitting. Research lives in studies/, one folder per
question, and the package and its benchmarks never import from it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "tallrec"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
README = Path(__file__).resolve().parents[1] / "README.md"
REPO = SRC.parent
STUDIES = REPO / "studies"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(absolute module, imported names, line) for every `from X import ...` of the package."""
    tree = ast.parse(path.read_text())
    here = _module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == "tallrec" or mod.startswith("tallrec."):
                out.append((mod, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("tallrec."):
                    out.append((a.name, [], node.lineno))
    return out


MODULES = sorted(p for p in PKG.rglob("*.py"))


def _is_module(name: str) -> bool:
    p = SRC / Path(*name.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def _targets(mod: str, names: list[str]) -> list[str]:
    """The modules an import statement reaches (a submodule named in the import counts as one)."""
    subs = [f"{mod}.{n}" for n in names if _is_module(f"{mod}.{n}")]
    return subs + ([mod] if len(subs) < len(names) or not names else [])


def test_nothing_in_data_imports_the_llm_or_tuning():
    bad = [(p.name, m, line) for p in (PKG / "data").rglob("*.py") for m, _, line in _imports(p)
           if m.startswith(("tallrec.llm", "tallrec.tuning", "tallrec.experiments", "tallrec.serve"))]
    assert not bad


# The folders in the order data flows (README, "Development"): each imports only those before it.
LAYERS = ["core", "data", "collab", "prompts", "llm", "tuning", "baselines", "recommend", "experiments", "serve", "cli"]


def test_each_folder_imports_only_the_folders_before_it():
    assert sorted(LAYERS) == sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").is_file())
    bad = []
    for p in MODULES:
        here = p.relative_to(PKG).parts[0]
        if here not in LAYERS:
            continue
        for m, names, line in _imports(p):
            for t in _targets(m, names):
                there = t.split(".")[1] if t.count(".") else None
                if there in LAYERS and LAYERS.index(there) > LAYERS.index(here):
                    bad.append((str(p.relative_to(PKG)), t, line))
    assert not bad


def test_nothing_below_cli_imports_cli():
    below = [p for p in MODULES if not p.is_relative_to(PKG / "cli") and p.name != "__main__.py"]  # `python -m tallrec`
    bad = [(str(p.relative_to(PKG)), m, line) for p in below
           for m, names, line in _imports(p) if any(t.startswith("tallrec.cli") for t in _targets(m, names))]
    assert not bad


def test_nothing_private_is_imported_across_modules():
    bad = [(str(p.relative_to(PKG)), n, line) for p in MODULES for m, names, line in _imports(p)
           for n in names if n.startswith("_") and not n.startswith("__")]
    assert not bad


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for p in MODULES:
        mod = _module_name(p)
        deps = {t for m, names, _ in _imports(p) for t in _targets(m, names)}
        graph[mod] = {d for d in deps if d != mod and not mod.startswith(d + ".")}  # a package's own __init__
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep] if dep in stack else [node, dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])
    assert not cycles, cycles[:3]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_modules_and_functions_stay_small(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long


def test_readme_python_examples_import():
    """Every `from tallrec... import ...` line in the README's Python examples names something real."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    lines = [line for b in blocks for line in b.splitlines() if re.match(r"\s*(from|import) tallrec", line)]
    assert lines
    for line in lines:
        exec(line.strip(), {})


def test_research_lives_in_studies_one_folder_per_question():
    assert not (REPO / "scripts").exists() and not (REPO / "results").exists()
    index = (STUDIES / "README.md").read_text()
    folders = [p for p in STUDIES.iterdir() if p.is_dir() and p.name not in ("tests", "__pycache__")]
    assert folders
    for folder in folders:
        assert (folder / "README.md").is_file(), folder.name
        assert f"({folder.name}/)" in index or f"`{folder.name}/`" in index, folder.name


def test_the_package_and_its_benchmarks_never_import_a_study():
    study_modules = {p.stem for p in STUDIES.rglob("*.py")}
    bad = []
    for p in [*MODULES, *(REPO / "benchmarks").glob("*.py")]:
        for node in ast.walk(ast.parse(p.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            bad += [(str(p.relative_to(REPO)), n) for n in names if n.split(".")[0] in study_modules | {"studies"}]
    assert not bad
