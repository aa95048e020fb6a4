"""Moving audio out of a root filesystem (hotline/asterisk/audio.py): a crash at any step loses
nothing, a second run finishes the job, a name taken by other content is left alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hotline.asterisk.audio import _PARTIAL, move_file, move_tree
from hotline.asterisk.rootfs import why_kept


def _put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("same_fs", [True, False])
def test_a_tree_moves_with_its_layout_and_a_second_run_does_nothing(
    tmp_path: Path, same_fs: bool
) -> None:
    src, dst = tmp_path / "old", tmp_path / "new"
    _put(src / "calls/2026/11/20/a-1001.wav", b"RIFF a")
    _put(src / "calls/2026/11/21/b-1002.flac", b"fLaC b")
    report = move_tree(src, dst, same_fs=same_fs)
    assert report.moved == 2 and report.conflicts == []
    assert (dst / "calls/2026/11/20/a-1001.wav").read_bytes() == b"RIFF a"
    assert (dst / "calls/2026/11/21/b-1002.flac").read_bytes() == b"fLaC b"
    assert [p for p in src.rglob("*")] == []  # empty folders go too
    assert (dst / "calls/2026/11/20").stat().st_mode & 0o777 == 0o700
    again = move_tree(src, dst, same_fs=same_fs)
    assert again.moved == 0 and again.conflicts == []


def test_a_crash_after_the_copy_and_before_the_unlink_is_finished_next_time(
    tmp_path: Path,
) -> None:
    old = _put(tmp_path / "old/voicemail/m.wav", b"message")
    _put(tmp_path / "new/voicemail/m.wav", b"message")  # the copy had landed
    report = move_tree(tmp_path / "old", tmp_path / "new")
    assert report.moved == 1 and not old.exists()
    assert (tmp_path / "new/voicemail/m.wav").read_bytes() == b"message"


def test_a_crash_in_the_middle_of_a_copy_keeps_the_original(tmp_path: Path) -> None:
    old = _put(tmp_path / "old/calls/x.wav", b"the whole recording")
    partial = _put(tmp_path / "new/calls" / ("x.wav" + _PARTIAL), b"the wh")
    # A half copy is never taken for the file; the next run copies again.
    report = move_tree(tmp_path / "old", tmp_path / "new", same_fs=False)
    assert report.moved == 1 and not old.exists() and not partial.exists()
    assert (tmp_path / "new/calls/x.wav").read_bytes() == b"the whole recording"


def test_a_name_taken_by_other_content_is_left_and_keeps_its_root(tmp_path: Path) -> None:
    root = tmp_path / "cache/asterisk-rootfs-old"
    (root / ".hotline-recipe").parent.mkdir(parents=True)
    (root / ".hotline-recipe").write_text("x", encoding="utf-8")
    spool = root / "srv/hotline/main/spool/hotline-recordings"
    old = _put(spool / "calls/y.wav", b"one recording")
    _put(tmp_path / "new/calls/y.wav", b"another recording")
    report = move_tree(spool, tmp_path / "new")
    assert report.moved == 0 and report.conflicts == [old]
    assert old.read_bytes() == b"one recording"
    assert (tmp_path / "new/calls/y.wav").read_bytes() == b"another recording"
    reason = why_kept(root)
    assert reason is not None and "spool" in reason


def test_a_hard_link_move_never_replaces_an_existing_file(tmp_path: Path) -> None:
    src = _put(tmp_path / "a.wav", b"new")
    dst = _put(tmp_path / "d/a.wav", b"old")
    assert move_file(src, dst) is False
    assert src.read_bytes() == b"new" and dst.read_bytes() == b"old"


def test_a_moved_file_is_not_readable_by_others(tmp_path: Path) -> None:
    src = _put(tmp_path / "a.wav", b"voice")
    os.chmod(src, 0o644)
    dst = tmp_path / "d/a.wav"
    assert move_file(src, dst, same_fs=False)
    assert dst.stat().st_mode & 0o077 == 0
