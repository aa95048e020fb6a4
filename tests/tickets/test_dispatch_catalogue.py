"""The dispatch catalogue file (pure): validation names the entry and field; lookups."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hotline.tickets.catalogue import CatalogueError, parse
from hotline.tickets.hotspots import HotspotBoard, HotspotRule, detect
from hotline.tickets.values import DEFAULT_SUBJECTS

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "dispatch-catalogue.json"


def test_the_example_file_is_valid_and_suggests() -> None:
    cat = parse(EXAMPLE.read_text(encoding="utf-8"), DEFAULT_SUBJECTS)
    day = date(2026, 12, 7)
    assert cat.area_of("大连市甘井子区红旗西路 12 号") == "ganjingzi"
    assert cat.area_of("沙河口区黄河路") == "shahekou"
    assert cat.area_of("somewhere else") == ""
    north = cat.suggest("02.01", "ganjingzi", day)
    assert north is not None and (north.lead_unit, north.co_units) == (
        "water-company-north",
        ("ganjingzi-gov",),
    )
    # After the area row's validity: the any-area row.
    later = cat.suggest("02.01", "ganjingzi", date(2027, 1, 1))
    assert later is not None and later.lead_unit == "water-company"
    # A subject without its own row: its parent's (01.02 -> 01).
    parent = cat.suggest("01.02", "xigang", day)
    assert parent is not None and (parent.lead_unit, parent.subject) == ("housing-bureau", "01")
    assert cat.suggest("05.01", "xigang", day) is None
    assert cat.suggest("02.01", "xigang", date(2025, 12, 31)) is None  # before valid_from


def good() -> dict[str, Any]:
    return {
        "areas": [{"code": "a", "name": "甲区", "match": ["甲区"]}],
        "entries": [
            {"subject": "02.01", "area": "a", "lead_unit": "w", "valid_from": "2026-01-01"}
        ],
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["entries"][0].update(area="b"), r"entries\[0\]\.area: 'b' is not one of"),
        (lambda d: d["entries"][0].update(subject="77"), r"entries\[0\]\.subject: '77' is not in"),
        (lambda d: d["entries"][0].update(valid_from="2026-13-01"), r"valid_from: '2026-13-01'"),
        (lambda d: d["entries"][0].update(valid_to="2025-01-01"), "before valid_from"),
        (lambda d: d["entries"][0].update(lead_unit="水 务"), r"lead_unit: .* not a valid code"),
        (lambda d: d["entries"][0].update(co_units=["w"]), "not the lead unit"),
        (lambda d: d["entries"][0].update(colour="red"), r"entries\[0\]\.colour: unknown field"),
        (
            lambda d: d["entries"].append(
                dict(d["entries"][0], lead_unit="x", valid_from="2026-06-01")
            ),
            r"entries\[1\]: 02.01 in a overlaps entries\[0\]",
        ),
        (lambda d: d["areas"].append(dict(d["areas"][0])), r"areas\[1\]\.code: 'a' twice"),
        (lambda d: d.update(entries=[]), "non-empty list"),
    ],
)
def test_bad_files_are_refused_naming_the_entry(change: Any, message: str) -> None:
    data = good()
    change(data)
    with pytest.raises(CatalogueError, match=message):
        parse(json.dumps(data), DEFAULT_SUBJECTS)


def test_not_json() -> None:
    with pytest.raises(CatalogueError, match="not JSON"):
        parse("{", DEFAULT_SUBJECTS)


def test_successive_validity_is_fine() -> None:
    data = good()
    data["entries"][0]["valid_to"] = "2026-05-31"
    data["entries"].append(dict(data["entries"][0], lead_unit="x", valid_from="2026-06-01",
                                valid_to=None))  # fmt: skip
    cat = parse(json.dumps(data), DEFAULT_SUBJECTS)
    assert [cat.suggest("02.01", "a", date(2026, m, 1)).lead_unit for m in (5, 6)] == ["w", "x"]  # type: ignore[union-attr]


def test_hotspot_detection_and_board() -> None:
    from datetime import UTC, datetime, timedelta

    rule = HotspotRule(window_minutes=30, threshold=3)
    at = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assert (
        detect(rule, 2, subject="02.01", subject_name="供水", area="a", area_name="甲区", at=at)
        is None
    )
    spot = detect(rule, 3, subject="02.01", subject_name="供水", area="a", area_name="甲区", at=at)
    assert spot is not None and spot.to_event()["count"] == 3
    board = HotspotBoard()
    board.put(spot)
    assert board.current(at + timedelta(minutes=29)) == [spot]
    assert board.current(at + timedelta(minutes=30)) == []


def test_a_hot_spot_reaches_displays_whole_and_the_wallboard_shows_it() -> None:
    from datetime import UTC, datetime

    from hotline.base.bus import display_copy
    from hotline.tickets.hotspots import banner
    from hotline.wallboard.rules import wallboard

    at = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    spot = detect(HotspotRule(), 7, subject="02.01", subject_name="供水", area="xigang",
                  area_name="西岗区", at=at)  # fmt: skip
    assert spot is not None
    # Nothing in it is personal, so the display feed gets every field (none is cut).
    assert display_copy(spot.to_event()) == spot.to_event()
    board = wallboard({"hotspots": banner([spot])}, now=0.0)
    assert board["hotspots"][0]["count"] == 7 and board["hotspots"][0]["area_name"] == "西岗区"
    assert wallboard({}, now=0.0)["hotspots"] == []
