"""The dispatch catalogue (派单目录), pure: subject code x area -> lead unit and co-units, with
validity dates; loaded with ``hotline catalogue import FILE.json`` (docs/dispatch-catalogue.json).

Rules:
* A file has ``areas`` (``code``; ``name``; ``match``: the words that put an address in the area,
  e.g. "中山区") and ``entries`` (``subject``, ``area`` or ``*`` for any area, ``lead_unit``,
  optional ``co_units``, ``valid_from``, optional ``valid_to``, both inclusive).
* An import is all or nothing: one bad entry refuses the file, naming the entry and the field.
  Two entries for the same subject and area whose validity overlaps are refused (which would
  win?); so is a subject outside the centre's subject tree, or an undeclared area.
* The area of an address: the area whose longest match word occurs in it (so "西岗区人民路"
  goes to 西岗区 even if another area matches "人民路"); none: no area.
* A suggestion for subject S in area A on day D: the entry valid on D for S and A, else for S
  and ``*``; else the same for S's parent, up the tree ("02.01" -> "02"). The agent may always
  dispatch elsewhere: the catalogue suggests, the dispatcher decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

ANY_AREA = "*"
MAX_ENTRIES = 20_000
MAX_AREAS = 2_000
_CODE = re.compile(r"^[\w.\-]{1,32}$")
_UNIT = re.compile(r"^[\w.\-]{1,64}$")
_SUBJECT = re.compile(r"^[0-9A-Za-z]{1,8}(\.[0-9A-Za-z]{1,8}){0,4}$")


class CatalogueError(ValueError):
    """A bad catalogue file; the message names the entry and the field."""


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    match: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    subject: str
    area: str  # an area code or ANY_AREA
    lead_unit: str
    co_units: tuple[str, ...]
    valid_from: date
    valid_to: date | None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Suggestion:
    lead_unit: str
    co_units: tuple[str, ...]
    subject: str  # the catalogue row's subject (the ticket's or a parent)
    area: str
    valid_to: date | None

    def to_json(self) -> dict[str, Any]:
        return {
            "lead_unit": self.lead_unit, "co_units": list(self.co_units), "subject": self.subject,
            "area": self.area, "valid_to": self.valid_to.isoformat() if self.valid_to else None,
        }  # fmt: skip


@dataclass(frozen=True)
class Catalogue:
    areas: Mapping[str, Area] = field(default_factory=dict)
    entries: tuple[Entry, ...] = ()

    def area_of(self, address: str) -> str:
        """The area code for an address ('' when no area's words occur in it)."""
        best, best_len = "", 0
        for area in self.areas.values():
            for word in area.match:
                if word in address and len(word) > best_len:
                    best, best_len = area.code, len(word)
        return best

    def suggest(self, subject: str, area: str, day: date) -> Suggestion | None:
        parts = subject.split(".") if subject else []
        for depth in range(len(parts), 0, -1):
            code = ".".join(parts[:depth])
            for wanted in (area, ANY_AREA) if area else (ANY_AREA,):
                for e in self.entries:
                    if e.subject == code and e.area == wanted and e.valid_on(day):
                        return Suggestion(e.lead_unit, e.co_units, e.subject, e.area, e.valid_to)
        return None

    def area_name(self, code: str) -> str:
        area = self.areas.get(code)
        return area.name if area is not None else code


EMPTY = Catalogue()


def _text(data: Mapping[str, Any], name: str, where: str, pattern: re.Pattern[str]) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not pattern.match(value.strip()):
        raise CatalogueError(f"{where}.{name}: {str(value)[:40]!r} is not a valid code")
    return value.strip()


def _date(data: Mapping[str, Any], name: str, where: str) -> date | None:
    raw = data.get(name)
    if raw is None:
        return None
    try:
        if not isinstance(raw, str) or len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise CatalogueError(
            f"{where}.{name}: {str(raw)[:40]!r} is not a date like 2026-12-31"
        ) from None


def _only(data: Any, known: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise CatalogueError(f"{where}: must be an object")
    unknown = sorted(set(data) - known)
    if unknown:
        raise CatalogueError(
            f"{where}.{unknown[0]}: unknown field (known: {', '.join(sorted(known))})"
        )
    return data


def _area(data: Any, where: str) -> Area:
    d = _only(data, {"code", "name", "match"}, where)
    code = _text(d, "code", where, _CODE)
    name = d.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise CatalogueError(f"{where}.name: 1-64 characters")
    match = d.get("match", [name])
    if not isinstance(match, list) or not match:
        raise CatalogueError(f"{where}.match: a non-empty list of words found in addresses")
    words = []
    for i, word in enumerate(match):
        if not isinstance(word, str) or not 2 <= len(word.strip()) <= 64:
            raise CatalogueError(f"{where}.match[{i}]: 2-64 characters")
        words.append(word.strip())
    return Area(code, name.strip(), tuple(words))


def _entry(data: Any, where: str, areas: Mapping[str, Area], subjects: Mapping[str, str]) -> Entry:
    d = _only(data, {"subject", "area", "lead_unit", "co_units", "valid_from", "valid_to"}, where)
    subject = _text(d, "subject", where, _SUBJECT)
    if subjects and subject not in subjects:
        raise CatalogueError(f"{where}.subject: {subject!r} is not in the subject classification")
    area = d.get("area")
    if area != ANY_AREA:
        area = _text(d, "area", where, _CODE)
        if area not in areas:
            raise CatalogueError(f"{where}.area: {area!r} is not one of the file's areas (or *)")
    lead = _text(d, "lead_unit", where, _UNIT)
    co = d.get("co_units", [])
    if not isinstance(co, list) or len(co) > 10:
        raise CatalogueError(f"{where}.co_units: a list of at most 10 unit codes")
    co_units = tuple(_text({"co_units": u}, "co_units", where, _UNIT) for u in co)
    if lead in co_units or len(set(co_units)) != len(co_units):
        raise CatalogueError(f"{where}.co_units: distinct, and not the lead unit")
    start = _date(d, "valid_from", where)
    if start is None:
        raise CatalogueError(f"{where}.valid_from: a date like 2026-01-01")
    end = _date(d, "valid_to", where)
    if end is not None and end < start:
        raise CatalogueError(f"{where}.valid_to: {end} is before valid_from {start}")
    return Entry(subject, str(area), lead, co_units, start, end)


def parse(text: str | bytes, subjects: Mapping[str, str] | None = None) -> Catalogue:
    """A validated catalogue from a file's text; CatalogueError names what is wrong."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"file: not JSON ({exc})") from None
    d = _only(data, {"areas", "entries"}, "file")
    raw_areas, raw_entries = d.get("areas", []), d.get("entries")
    if not isinstance(raw_areas, list) or len(raw_areas) > MAX_AREAS:
        raise CatalogueError(f"file.areas: a list of at most {MAX_AREAS} areas")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise CatalogueError("file.entries: a non-empty list of catalogue entries")
    if len(raw_entries) > MAX_ENTRIES:
        raise CatalogueError(f"file.entries: {len(raw_entries)} entries, at most {MAX_ENTRIES}")
    areas: dict[str, Area] = {}
    for i, item in enumerate(raw_areas):
        area = _area(item, f"areas[{i}]")
        if area.code in areas:
            raise CatalogueError(f"areas[{i}].code: {area.code!r} twice in the file")
        areas[area.code] = area
    entries = [
        _entry(item, f"entries[{i}]", areas, subjects or {}) for i, item in enumerate(raw_entries)
    ]
    seen: dict[tuple[str, str], list[tuple[int, Entry]]] = {}
    for i, e in enumerate(entries):
        for j, other in seen.get((e.subject, e.area), []):
            if _overlap(e, other):
                raise CatalogueError(
                    f"entries[{i}]: {e.subject} in {e.area} overlaps entries[{j}] "
                    f"({other.valid_from}..{other.valid_to or 'open'}): which unit would it be?"
                )
        seen.setdefault((e.subject, e.area), []).append((i, e))
    return Catalogue(areas, tuple(entries))


def _overlap(a: Entry, b: Entry) -> bool:
    a_end, b_end = a.valid_to or date.max, b.valid_to or date.max
    return a.valid_from <= b_end and b.valid_from <= a_end
