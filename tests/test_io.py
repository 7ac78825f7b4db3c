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


def test_atomic_writes_honour_the_umask(tmp_path):
    """Results get 0666 & ~umask like any open(), not mkstemp's 0600 (group can read)."""
    import os

    from advtransfer import io as aio

    old = os.umask(0o027)
    try:
        aio.write_json(tmp_path / "a.json", {"x": 1})
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
        os.umask(0o002)
        aio.write_tsv(tmp_path / "b.tsv", __import__("pandas").DataFrame({"x": [1]}))
        assert (tmp_path / "b.tsv").stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old)


def test_log_file_keeps_one_line_per_progress_bar(tmp_path):
    """tqdm redraws (carriage returns) never reach the log; the final bar state does."""
    import logging
    import sys

    from tqdm import tqdm

    from advtransfer import io as aio

    saved = sys.stderr
    try:
        log = aio.setup_logging(tmp_path / "job.log")
        for _ in tqdm(range(50), desc="steps", mininterval=0, file=sys.stderr):
            pass
        log.info("after the bar")
        sys.stderr.flush()
    finally:
        sys.stderr = saved
        logging.basicConfig(handlers=[logging.StreamHandler(saved)], force=True)
    text = (tmp_path / "job.log").read_text()
    assert "\r" not in text
    bars = [line for line in text.splitlines() if line.startswith("steps")]
    assert len(bars) == 1 and "50/50" in bars[0]
    assert "after the bar" in text
