"""The import contract (pyproject.toml ``[tool.importlinter]``, docs/architecture.md) is live:
``lint-imports`` passes on the tree and fails on a copy of it given an upward import or a
circle; every module has its place in the tiers; no import circle anywhere, even through a
function-local import.

Run as one subprocess per tree (the linter finds the packages from its working directory, and
this process has already imported the real ``api``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _contract() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_the_tree_keeps_the_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _copy_of_the_tree(tmp_path: Path) -> Path:
    for package in ("api", "models"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n\n{line}\n")


def test_an_upward_import_or_a_circle_breaks_it(tmp_path: Path) -> None:
    tree = _copy_of_the_tree(tmp_path)
    # upward: a repository importing the orchestrator; a circle hidden in a function
    _append(
        tree / "api/sessions/repository.py",
        "def _later() -> None:\n    from api.sessions import service  # noqa",
    )
    # a pure rule doing I/O
    _append(tree / "api/clinical/phase.py", "import sqlalchemy  # noqa")
    # a circle inside one package
    _append(tree / "api/security/tokens.py", "import api.security.actor  # noqa")
    result = _lint(tree)
    out = result.stdout
    assert result.returncode != 0, out
    assert "api.sessions.repository is not allowed to import api.sessions.service" in out, out
    assert "api.clinical.phase -> sqlalchemy" in out, out
    assert "No cycles are allowed in api.security" in out, out


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("api", "models", cache_dir=None)


def _layer_modules() -> list[str]:
    names = []
    for layer in _contract()["tiers"]["layers"]:  # type: ignore[attr-defined]
        for part in layer.replace("|", ":").split(":"):
            names.append(part.strip().strip("()"))
    return names


def test_every_module_has_a_tier(graph: grimp.ImportGraph) -> None:
    """A new module must be placed in ``tiers`` (a package's own ``__init__`` need not be)."""
    listed = _layer_modules()
    packages = {m for m in graph.modules if graph.find_children(m)}
    unplaced = sorted(
        m
        for m in graph.modules
        if m not in packages and not any(m == n or m.startswith(n + ".") for n in listed)
    )
    assert not unplaced, f"add these to [tool.importlinter] 'tiers' in pyproject.toml: {unplaced}"


def _circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circle_anywhere(graph: grimp.ImportGraph) -> None:
    """Module by module across packages, function-local imports included (the layers contract
    lets the modules of a ":" layer import each other)."""
    assert _circles(graph) == []


def test_the_circle_finder_finds_one() -> None:
    g = grimp.ImportGraph()
    for importer, imported in [("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x"), ("a.z", "a.w")]:
        g.add_import(importer=importer, imported=imported)
    assert _circles(g) == [["a.x", "a.y", "a.z"]]
