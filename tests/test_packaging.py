"""The package as published: one version, every package file declared, the README's size.

These are the fast, build-free halves of ``.ci/check_package``, which builds the sdist and the
wheel, compares their files with ``src/zssr`` and runs the installed wheel.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

import zssr
from zssr import cli

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "zssr"
tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_version_is_defined_once_in_init() -> None:
    """pyproject.toml reads the version from ``zssr.__version__``, a PEP 440 release string."""
    project = _pyproject()
    assert "version" not in project["project"], "the version lives in src/zssr/__init__.py only"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "zssr.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?", zssr.__version__)


def test_cli_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``zssr --version`` prints the same version, installed or run from the source tree."""
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"zssr {zssr.__version__}"


def test_every_non_python_package_file_is_package_data() -> None:
    """A data file under src/zssr that package-data does not name would be missing from the wheel."""
    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["zssr"]
    assert (PACKAGE / "py.typed").is_file()
    undeclared = []
    for path in PACKAGE.rglob("*"):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in {".py", ".pyc"}:
            continue
        relative = path.relative_to(PACKAGE).as_posix()
        if not any(fnmatch.fnmatch(relative, pattern) for pattern in patterns):
            undeclared.append(relative)
    assert not undeclared, f"add these to [tool.setuptools.package-data] in pyproject.toml: {undeclared}"


def test_changelog_has_the_current_version() -> None:
    """CHANGELOG.md has a section for the version being built."""
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(zssr.__version__)}\]", changelog, re.MULTILINE)


def test_readme_stays_under_six_kilobytes() -> None:
    """The README is the front door (issue #30: at most 6 kB); details live in docs/."""
    size = len((ROOT / "README.md").read_bytes())
    assert size <= 6000, f"README.md is {size} bytes; move details to docs/ (docs/RESULTS.md for results)"
