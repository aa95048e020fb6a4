"""A call recording's file name gives its call and agent, on one server and on a cluster node."""

from __future__ import annotations

from hotline.recordings.service import recording_name


def test_call_and_agent_are_read_from_the_file_name() -> None:
    assert recording_name("1796626846.12-1001") == ("1796626846.12", "1001")
    assert recording_name("1796626846.12-dept-3") == ("1796626846.12", "dept-3")
    # A cluster node's call id carries its node: not cut at the first dash.
    assert recording_name("b-1796626846.0-2001") == ("b-1796626846.0", "2001")
    assert recording_name("hl2-1796626846.0-dept-1") == ("hl2-1796626846.0", "dept-1")


def test_other_files_are_not_taken_for_recordings() -> None:
    for stem in ("1796626846.12", "notes-1001", "b-x-1001", "", "-1001"):
        assert recording_name(stem) is None, stem
