"""docs/SECURITY.md names, per asset, the test that proves its protection (issue 13). A test
renamed or moved (the restructure into hotline/ moved most files) would leave the table pointing
at nothing: every named test file, test function and source file must exist.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "SECURITY.md", *sorted((ROOT / "docs" / "security").glob("*.md"))]
# `tests/x/test_y.py`, `tests/x/test_y.py::test_z`, `test_y.py::test_z` (a file named before in
# the same row), `::test_z` (the last file named), and source paths `hotline/...`, `scripts/...`.
NAMED = re.compile(
    r"`(?:(?P<file>(?:tests/[a-z_/]+/)?test_[a-z0-9_]+\.py))?(?:::(?P<test>test_[A-Za-z0-9_]+))?`"
    r"|`(?P<source>(?:hotline|scripts)/[A-Za-z0-9_./-]+)`"
)


def _test_file(name: str) -> Path | None:
    if "/" in name:
        return ROOT / name
    found = sorted(ROOT.glob(f"tests/*/{name}"))
    return found[0] if len(found) == 1 else None


def dangling(text: str) -> list[str]:
    """What ``text`` names that the tree lacks, one line each."""
    missing: list[str] = []
    for row in text.splitlines():
        if not row.startswith("|"):
            continue
        current: Path | None = None
        for m in NAMED.finditer(row):
            if m["source"]:
                if not (ROOT / m["source"]).exists():
                    missing.append(f"no file {m['source']}")
                continue
            if m["file"]:
                current = _test_file(m["file"])
                if current is None or not current.is_file():
                    missing.append(f"no test file {m['file']}")
                    current = None
                    continue
            if m["test"]:
                if current is None:
                    missing.append(f"::{m['test']} names no file before it")
                    continue
                body = current.read_text(encoding="utf-8")
                if not re.search(rf"^(?:async )?def {m['test']}\(", body, re.MULTILINE):
                    missing.append(f"no test {current.relative_to(ROOT)}::{m['test']}")
    return missing


def test_the_security_table_names_only_tests_and_files_that_exist() -> None:
    named = sum(len(NAMED.findall(doc.read_text(encoding="utf-8"))) for doc in DOCS)
    assert named > 40, f"the pattern no longer reads the table ({named} names)"
    missing = [
        f"{doc.relative_to(ROOT)}: {line}"
        for doc in DOCS
        for line in dangling(doc.read_text(encoding="utf-8"))
    ]
    assert not missing, "\n".join(missing)


def test_a_renamed_test_is_caught() -> None:
    row = (
        "| x | y | z | `tests/asterisk/test_ami_safety.py::test_no_such_test`, "
        "`::test_the_ami_login_has_no_system_or_command_permission`, "
        "`tests/unit/test_gone.py`, `hotline/acd/gone.py` |"
    )
    assert dangling(row) == [
        "no test tests/asterisk/test_ami_safety.py::test_no_such_test",
        "no test file tests/unit/test_gone.py",
        "no file hotline/acd/gone.py",
    ]
