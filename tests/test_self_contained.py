"""The repository stands alone: no text points at documents or data outside it.

Every tracked text file (``git ls-files``, plus files not yet added that git does not
ignore; binary files and ``resources/`` skipped) must not cite an internal specification
or a directory beside the checkout, nor name internal tickets by number: the code and the
docs cite the paper (Liang et al.) and ``docs/method.md``. Each ``docs/method.md §N``
reference must name a section that docs/method.md has.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import REPO

# Built from pieces so that this file does not match its own patterns.
_SPEC = "SP" + "EC"
FORBIDDEN = {
    "a section of the internal specification": re.compile(re.escape(_SPEC) + r" ?§"),
    "the internal specification file": re.compile(re.escape(_SPEC + ".md")),
    "a directory beside the checkout": re.compile(re.escape(".." + "/shared")),
    "a shared directory outside the repository": re.compile(re.escape("/" + "shared/")),
    "an internal ticket number": re.compile(r"\biss" + r"ues?\s*#?\s*\d+", re.IGNORECASE),
}
SKIP_PREFIXES = ("resources/",)
METHOD = REPO / "docs" / "method.md"
METHOD_REF = re.compile(r"docs/method\.md\s+((?:§\d+(?:\.\d+)?(?:\s*[-–,]\s*)?)+)")
SECTION_NUMBER = re.compile(r"§(\d+(?:\.\d+)?)")
HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)?)\.?\s", re.MULTILINE)


def _text_files() -> list[tuple[str, str]]:
    """``(path, text)`` of every tracked or addable text file outside ``resources/``."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode()
    files = []
    for name in sorted({n for n in out.split("\0") if n}):
        if name.startswith(SKIP_PREFIXES):
            continue
        try:
            data = (REPO / name).read_bytes()
        except OSError:  # deleted in the working tree, or not a regular file
            continue
        if b"\0" in data[:8192]:
            continue
        try:
            files.append((name, data.decode("utf-8")))
        except UnicodeDecodeError:
            continue
    return files


def test_no_reference_outside_the_repository() -> None:
    problems = []
    for name, text in _text_files():
        for number, line in enumerate(text.splitlines(), start=1):
            for what, pattern in FORBIDDEN.items():
                if pattern.search(line):
                    problems.append(f"{name}:{number}: names {what}: {line.strip()[:120]}")
    assert not problems, (
        "cite the paper (Liang et al. §...) or docs/method.md instead, and say what the code "
        "does rather than naming a ticket:\n" + "\n".join(problems)
    )


def test_method_references_resolve() -> None:
    assert METHOD.is_file(), "docs/method.md is missing"
    sections = set(HEADING.findall(METHOD.read_text()))
    problems = []
    for name, text in _text_files():
        for number, line in enumerate(text.splitlines(), start=1):
            for match in METHOD_REF.finditer(line):
                for section in SECTION_NUMBER.findall(match.group(1)):
                    if section not in sections:
                        problems.append(f"{name}:{number}: docs/method.md has no §{section}")
    assert not problems, "\n".join(problems)
