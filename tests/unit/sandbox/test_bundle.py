"""The harness as the sandbox runs it: one stdlib-only source bundled from the protocol and the
modules of `sandbox/harness/`, in the fixed order of `HARNESS_FILES`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.backends.base import (
    HARNESS_FILES,
    HARNESS_SOURCE,
    STRIP_END,
    STRIP_START,
    bundle_harness,
    bundled_file,
)

SANDBOX = Path(__file__).parents[3] / "sandbox"


def parsed(name: str) -> ast.Module:
    return ast.parse((SANDBOX / name).read_text(), name)


def package_imports(tree: ast.Module) -> list[str]:
    """The modules of the package a source imports, anywhere in it."""
    modules = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    modules += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    return [m for m in modules if m == "sandbox" or m.startswith("sandbox.")]


def file_of(module: str) -> str:
    """`sandbox.harness.values` -> `harness/values.py`."""
    return module.removeprefix("sandbox.").replace(".", "/") + ".py"


def top_level_names(tree: ast.Module) -> set[str]:
    """What a file defines at module level (its imports aside)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def test_the_bundle_compiles_and_imports_nothing_of_the_package() -> None:
    assert bundle_harness() == HARNESS_SOURCE
    tree = ast.parse(HARNESS_SOURCE, "<bundle>")
    compile(tree, "<bundle>", "exec")
    assert package_imports(tree) == []
    assert STRIP_START not in HARNESS_SOURCE
    assert STRIP_END not in HARNESS_SOURCE
    # One future import, heading the bundle, where Python accepts it.
    assert HARNESS_SOURCE.count("from __future__ import") == 1
    assert HARNESS_SOURCE.startswith("from __future__ import annotations\n")


def test_each_file_is_bundled_once_in_the_declared_order() -> None:
    positions = []
    for name in HARNESS_FILES:
        part = bundled_file(name)
        assert HARNESS_SOURCE.count(part) == 1, name
        positions.append(HARNESS_SOURCE.index(part))
    assert positions == sorted(positions)


def test_every_harness_module_is_bundled() -> None:
    modules = {f"harness/{p.name}" for p in (SANDBOX / "harness").glob("*.py")}
    assert modules - {"harness/__init__.py"} == set(HARNESS_FILES) - {"protocol.py"}
    assert HARNESS_FILES[0] == "protocol.py"


@pytest.mark.parametrize("position", range(len(HARNESS_FILES)))
def test_a_file_imports_only_from_files_bundled_before_it(position: int) -> None:
    imported = {file_of(m) for m in package_imports(parsed(HARNESS_FILES[position]))}
    assert imported <= set(HARNESS_FILES[:position])


def test_no_two_files_define_one_name() -> None:
    """The bundle is one namespace: a name defined twice would shadow the first silently."""
    seen: dict[str, str] = {}
    for name in HARNESS_FILES:
        for defined in top_level_names(parsed(name)):
            assert defined not in seen, f"{defined} in {seen.get(defined)} and {name}"
            seen[defined] = name


def test_the_bundle_runs_where_the_package_cannot_be_imported() -> None:
    """No site-packages (`-S`): neither this package nor pydantic. Serving on an empty stdin
    runs every file's module-level code, then ends."""
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", HARNESS_SOURCE, "--serve"],
        input=b"",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout == b""


def test_an_unbalanced_strip_block_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sandbox.backends.base._PACKAGE", tmp_path)
    sources = {
        "open.py": f"x = 1\n{STRIP_START}\nimport sandbox\n",
        "closed.py": f"{STRIP_END}\nx = 1\n",
        "nested.py": f"{STRIP_START}\n{STRIP_START}\n{STRIP_END}\n",
    }
    for name, source in sources.items():
        (tmp_path / name).write_text(source)
        with pytest.raises(ValueError, match="strip"):
            bundled_file(name)
    (tmp_path / "fine.py").write_text(f"x = 1\n{STRIP_START} (why)\nimport sandbox\n{STRIP_END}\n")
    assert bundled_file("fine.py") == "x = 1\n"
