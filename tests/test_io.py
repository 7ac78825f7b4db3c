"""Atomic writes: a failed or killed writer never leaves a half-written output."""

from __future__ import annotations

import pytest

from advtransfer.io import atomic_path, read_json, write_json


def test_success_replaces_the_file_and_leaves_no_part(tmp_path):
    target = tmp_path / "out" / "table.json"
    write_json(target, {"a": 1})
    write_json(target, {"a": 2})
    assert read_json(target) == {"a": 2}
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.json"]


def test_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "table.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert read_json(target) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.json"]


def test_parts_of_a_killed_writer_are_removed(tmp_path):
    target = tmp_path / "model[1].safetensors"  # glob characters in the name
    stale = tmp_path / ".model[1].safetensors.abc123.part"
    other = tmp_path / ".other.safetensors.abc123.part"  # another output's: left alone
    stale.write_text("garbage")
    other.write_text("garbage")
    with atomic_path(target) as tmp:
        tmp.write_text("done")
    assert target.read_text() == "done"
    assert not stale.exists() and other.exists()
