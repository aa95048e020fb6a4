"""Ticket input validation: hostile input is refused with an error that names the field."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.tickets.values import (
    DEFAULT_SUBJECTS,
    LIMITS,
    FieldError,
    SubjectTree,
    TicketDraft,
    Viewer,
    address_key,
    clean_recording,
    clean_text,
    normalise_phone,
)


def draft(**kw: Any) -> TicketDraft:
    fields: dict[str, Any] = {
        "category": "complaint",
        "description": "楼下饭店油烟扰民",
        "subject_code": "04.02",
    }
    fields.update(kw)
    return TicketDraft(**fields)


def test_a_valid_draft_is_cleaned() -> None:
    d = draft(
        caller_number="０４１１-8888 1234",
        caller_name="  张三 ",
        description="line one\r\nline two\t(tab)  ",
        calls=["1700000000.1", "1700000000.1", "1700000000.2"],
    )
    assert d.caller_number == "041188881234"  # full-width digits folded, separators dropped
    assert d.caller_name == "张三"
    assert d.description == "line one\nline two\t(tab)"
    assert d.calls == ("1700000000.1", "1700000000.2")  # duplicates dropped, order kept


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"address": "x" * (LIMITS["address"] + 1)}, "address"),
        ({"caller_name": "x" * 65}, "caller_name"),
        ({"contact": "c" * 65}, "contact"),
        ({"description": "d" * 4001}, "description"),
        ({"description": "   "}, "description"),
        ({"description": "nul\x00byte"}, "description"),
        ({"description": "lone \ud800 surrogate"}, "description"),
        ({"caller_name": "evil\u202eeman"}, "caller_name"),  # bidi override
        ({"caller_name": "two\nlines"}, "caller_name"),
        ({"caller_name": 42}, "caller_name"),
        ({"caller_number": "call me maybe"}, "caller_number"),
        ({"caller_number": "+-()"}, "caller_number"),
        ({"category": "emergency"}, "category"),  # a handling type, not a category
        ({"category": None}, "category"),
        ({"channel": "fax"}, "channel"),
        ({"handling_type": "urgent"}, "handling_type"),
        ({"about_unit": "bad unit/../x"}, "about_unit"),
        ({"confidential": "yes"}, "confidential"),
        ({"calls": ["1700.1; DROP TABLE tickets"]}, "call"),
        ({"calls": "1700.1"}, "calls"),
        ({"calls": [f"c{i}" for i in range(51)]}, "calls"),
        ({"recordings": ["../../etc/passwd"]}, "recording"),
    ],
)
def test_hostile_fields_name_themselves(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as err:
        draft(**kw)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


def test_from_json_refuses_unknown_and_missing_fields() -> None:
    with pytest.raises(FieldError, match=r"^adress: unknown field"):
        TicketDraft.from_json({"category": "help", "description": "x", "subject_code": "99",
                               "adress": "typo"})  # fmt: skip
    with pytest.raises(FieldError, match=r"^subject_code: must not be empty"):
        TicketDraft.from_json({"category": "help", "description": "x"})
    with pytest.raises(FieldError, match=r"^recordings: must be a list"):
        TicketDraft.from_json(
            {"category": "help", "description": "x", "subject_code": "99", "recordings": "r"}
        )
    d = TicketDraft.from_json(
        {"category": "help", "description": "x", "subject_code": "99", "calls": ["a.1"]}
    )
    assert d.calls == ("a.1",)


def test_clean_text_limits_count_characters_not_bytes() -> None:
    assert clean_text("address", "路" * 200, 200) == "路" * 200
    with pytest.raises(FieldError, match=r"^address: 201 characters, at most 200"):
        clean_text("address", "路" * 201, 200)


def test_phone_normalisation() -> None:
    assert normalise_phone("+86 138-0013-8000") == "+8613800138000"
    assert normalise_phone("(0411) 8888 1234") == "041188881234"
    assert normalise_phone("") == ""


def test_address_key_ignores_spacing_punctuation_and_width() -> None:
    same = ["人民路5号", "人民路 5 号", "人民路５号。", " 人民路-5号 ", "人民路，5号"]
    assert {address_key(a) for a in same} == {"人民路5号"}
    assert address_key("Renmin Rd. 5") == address_key("renmin rd 5")
    assert address_key("人民路6号") != address_key("人民路5号")


def test_recording_references_stay_inside() -> None:
    assert clean_recording("2026/10/08/1700000000.1.wav") == "2026/10/08/1700000000.1.wav"
    for bad in ("a/../b", "..", "a\\b"):
        with pytest.raises(FieldError, match=r"^recording:"):
            clean_recording(bad)


def test_subject_tree() -> None:
    tree = SubjectTree(DEFAULT_SUBJECTS)
    assert tree.validate(" 02.01 ") == "02.01"
    assert tree.path("02.01") == [("02", "公用事业"), ("02.01", "供水")]
    with pytest.raises(FieldError, match=r"^subject_code: '02.09' is not in"):
        tree.validate("02.09")
    with pytest.raises(ValueError, match="parent '07' is missing"):
        SubjectTree({"07.01": "orphan"})
    with pytest.raises(ValueError, match="subject code"):
        SubjectTree({"a b": "space"})


def test_viewer_roles() -> None:
    assert Viewer("unit", "water-company").is_unit
    assert not Viewer("supervisor").is_unit
    with pytest.raises(FieldError, match=r"^unit:"):
        Viewer("unit")
    with pytest.raises(FieldError, match=r"^unit:"):
        Viewer("agent", "water-company")
    with pytest.raises(FieldError, match=r"^role:"):
        Viewer("admin")
