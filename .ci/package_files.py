"""Compare the built sdist and wheel with the source tree: a file the package needs must not go missing.

Usage: python .ci/package_files.py DIST_DIR [SRC_PACKAGE_DIR]

Every file under src/zssr (``.py`` or not: ``py.typed``, any data file the code reads) must be in the
wheel as ``zssr/<path>`` and in the sdist as ``<name>-<version>/src/zssr/<path>``; the wheel must hold
no ``zssr/`` file that the source tree lacks (a stale ``build/`` leftover). Byte-compiled files and
``__pycache__`` are ignored. Prints the wheel's package files and exits 1 with the differences.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath


def source_files(package_dir: Path) -> set[str]:
    """Paths relative to the package's parent (``zssr/...``), POSIX style, without byte code."""
    files = set()
    for path in package_dir.rglob("*"):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        files.add(PurePosixPath(package_dir.name, *path.relative_to(package_dir).parts).as_posix())
    return files


def main(argv: list[str]) -> int:
    """Check DIST_DIR's one wheel and one sdist against the package directory; 0 when both hold it all."""
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    dist = Path(argv[0])
    package_dir = Path(argv[1]) if len(argv) > 1 else Path("src/zssr")
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"package_files: expected one wheel and one sdist in {dist}, found {wheels + sdists}", file=sys.stderr)
        return 1
    expected = source_files(package_dir)
    prefix = package_dir.name + "/"
    with zipfile.ZipFile(wheels[0]) as whl:
        in_wheel = {n for n in whl.namelist() if n.startswith(prefix) and not n.endswith("/")}
    with tarfile.open(sdists[0]) as sdist:
        in_sdist = set()
        for member in sdist.getmembers():
            parts = PurePosixPath(member.name).parts  # <name>-<version>/src/zssr/...
            if member.isfile() and len(parts) > 2 and parts[1] == "src" and parts[2] == package_dir.name:
                in_sdist.add(PurePosixPath(*parts[2:]).as_posix())
    problems = []
    for label, missing in (
        (f"missing from the wheel {wheels[0].name}", expected - in_wheel),
        (f"missing from the sdist {sdists[0].name}", expected - in_sdist),
        (f"in the wheel {wheels[0].name} but not under {package_dir}", in_wheel - expected),
    ):
        if missing:
            problems.append(f"{label}: " + ", ".join(sorted(missing)))
    data = sorted(n for n in in_wheel if not n.endswith(".py"))
    print(f"package_files: {len(in_wheel)} files under {prefix} in the wheel ({len(expected)} in the source), "
          f"non-.py: {', '.join(data) or 'none'}")
    for problem in problems:
        print(f"package_files: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
