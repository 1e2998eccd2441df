"""The tests mirror the package layout one to one: tests/streamse/X tests streamse/X,
tests/models/X tests models/X (installed as streamse.models.X), and likewise export/ and bench/;
every package folder has its test folder, and every test file is named after what it tests:
test_<module or subpackage of that folder>[_aspect].py, or test_<the folder's own name>_*.py for
tests of the package as a whole. Project-wide checks (lint, packaging, layering, this one) sit
in tests/ itself."""

from __future__ import annotations

from pathlib import Path

from bundled import ROOT, TESTS

TOP = ("streamse", "models", "export", "bench")
PROJECT_WIDE = {"test_layering.py", "test_layout.py", "test_lint.py", "test_packaging.py"}
NOT_PACKAGES = {"assets", "data", "__pycache__"}


def _packages() -> list[Path]:
    """Package folders relative to the repo root (folders with an __init__.py)."""
    return sorted(
        p.parent.relative_to(ROOT)
        for top in TOP
        for p in (ROOT / top).rglob("__init__.py")
        if not NOT_PACKAGES & set(p.relative_to(ROOT).parts)
    )


def _names(package: Path) -> set[str]:
    """What a test file in the mirror of `package` may be named after."""
    folder = ROOT / package
    return (
        {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
        | {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}
        | {folder.name}
    )


def _misplaced(test: Path, packages: set[Path]) -> str | None:
    rel = test.relative_to(TESTS)
    if rel.parent == Path("."):
        return None if rel.name in PROJECT_WIDE else f"{rel}: not a project-wide check"
    if rel.parent not in packages:
        return f"{rel}: tests/{rel.parent} mirrors no package folder"
    stem = rel.stem.removeprefix("test_")
    if not any(stem == n or stem.startswith(n + "_") for n in _names(rel.parent)):
        return f"{rel}: named after no module of {rel.parent}/"
    return None


def test_every_test_file_mirrors_what_it_tests():
    packages = set(_packages())
    problems = [m for t in sorted(TESTS.rglob("test_*.py")) if (m := _misplaced(t, packages))]
    assert not problems, "\n".join(problems)


def test_every_package_has_its_test_folder():
    missing = [str(p) for p in _packages() if not any((TESTS / p).glob("test_*.py"))]
    assert not missing, f"package folders without tests/<folder>/test_*.py: {missing}"


def test_the_rule_catches_strays(tmp_path):
    """The check itself can fail: a file in a folder mirroring nothing, and one named after no
    module, are both reported."""
    packages = set(_packages())
    assert _misplaced(TESTS / "runtime" / "test_streamer.py", packages)
    assert _misplaced(TESTS / "streamse" / "live" / "test_nothing_here.py", packages)
    assert _misplaced(TESTS / "test_random.py", packages)
    assert _misplaced(TESTS / "streamse" / "live" / "test_engine_soak.py", packages) is None


def test_the_readme_layout_table_matches_the_tree():
    """Every top-level folder of the project has a row in README's layout table, and every
    path the table names exists."""
    import re

    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Layout") :]
    table = table[: table.index("\n## ", 4)]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    named = {re.match(r"\| `([^`]+)/`", row).group(1) for row in rows}
    folders = {
        p.name
        for p in ROOT.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and p.name not in {"build", "dist", "__pycache__"}
        and not p.name.endswith(".egg-info")
    }
    assert folders <= named, f"folders missing from README's layout table: {folders - named}"
    paths = {m for row in rows for m in re.findall(r"`([\w./-]+/)`", row)}
    missing = [
        p
        for p in sorted(paths)
        if not (ROOT / p).is_dir() and not any((ROOT / top / p).is_dir() for top in ("", *TOP))
    ]
    assert not missing, f"README's layout table names folders that do not exist: {missing}"
