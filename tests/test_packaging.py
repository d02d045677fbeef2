"""The Python versions pyproject.toml admits are ones xmt's code runs on."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEWER_STDLIB = {"tomllib": (3, 11)}  # standard-library modules xmt imports that older Pythons lack


def test_requires_python_admits_no_version_whose_standard_library_lacks_an_import():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    lowest = tuple(int(part) for part in re.fullmatch(r">=\s*(\d+)\.(\d+)", declared.strip()).groups())
    for path in (ROOT / "xmt").rglob("*.py"):
        for module in re.findall(r"^\s*import (\w+)|^\s*from (\w+) import", path.read_text(), re.M):
            name = module[0] or module[1]
            if name in NEWER_STDLIB:
                assert lowest >= NEWER_STDLIB[name], f"{path.relative_to(ROOT)} imports {name}; requires-python {declared}"
    assert sys.version_info[:2] >= lowest
