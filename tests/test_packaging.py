"""Every package folder ships: `pip install .` (not editable) installs only the packages that
pyproject.toml lists, so a new folder missing there breaks a user's install while an editable
test install still passes. This test compares the list with the tree."""

from __future__ import annotations

import tomllib

from bundled import ROOT


def test_every_package_folder_is_listed_in_pyproject():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, roots = set(tool["packages"]), tool["package-dir"]
    found = set()
    for name, folder in roots.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *rel)))
    assert found - listed == set(), f"add to pyproject.toml packages: {sorted(found - listed)}"
    assert listed - found == set(), f"listed but not a package: {sorted(listed - found)}"
