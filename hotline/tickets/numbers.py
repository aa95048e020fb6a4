"""Ticket numbers that citizens read out over the phone.

Format: ``YYYYMMDD`` (day of intake) + 6-digit daily sequence (000001-999999) + 1 Luhn check
digit, 15 digits in all, e.g. ``202610080001237``. Agents may type it with spaces or dashes, or
with full-width digits from a Chinese input method; parsing ignores those.

Why Luhn: it detects every single-digit substitution and every adjacent transposition except
``09`` <-> ``90``. ISO 7064 MOD 11-10, the other candidate, also detects every substitution but
misses 20 of 900 (state, digit pair) transpositions, e.g. some ``12`` <-> ``21``, depending on
the position: Luhn's one blind spot is fixed and easy to state. Digits only, so the number can be
keyed on a phone pad and read as digits in Mandarin.
"""

from __future__ import annotations

import unicodedata
from datetime import date

SEQ_DIGITS = 6
LENGTH = 8 + SEQ_DIGITS + 1
_DIGITS = frozenset("0123456789")
_SEPARATORS = frozenset(" -\t")


class InvalidTicketNumber(ValueError):
    """A typed ticket number is malformed, names an impossible date, or fails its check digit."""


def luhn_check_digit(payload: str) -> str:
    """The digit that makes payload + digit pass the Luhn test."""
    total = 0
    # Double every second digit from the right of the payload (the check digit goes after it).
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def make_ticket_number(day: date, seq: int) -> str:
    if not 1000 <= day.year <= 9999:
        raise ValueError(f"year {day.year} does not fit a ticket number")
    if not 1 <= seq < 10**SEQ_DIGITS:
        raise ValueError(f"daily sequence {seq} is outside 1..{10**SEQ_DIGITS - 1}")
    payload = f"{day:%Y%m%d}{seq:0{SEQ_DIGITS}d}"
    return payload + luhn_check_digit(payload)


def normalize_ticket_number(s: str) -> str:
    """Digits only: NFKC folds full-width digits and dashes; spaces and dashes are dropped."""
    folded = unicodedata.normalize("NFKC", s).strip()
    kept = "".join(ch for ch in folded if ch not in _SEPARATORS)
    bad = sorted({ch for ch in kept if ch not in _DIGITS})
    if bad:
        raise InvalidTicketNumber(f"ticket number {s!r} has characters other than digits: {bad}")
    if len(kept) != LENGTH:
        raise InvalidTicketNumber(
            f"ticket number {s!r} has {len(kept)} digits; expected {LENGTH} "
            f"(date YYYYMMDD, {SEQ_DIGITS}-digit sequence, check digit)"
        )
    return kept


def parse_ticket_number(s: str) -> tuple[date, int]:
    digits = normalize_ticket_number(s)
    payload, check = digits[:-1], digits[-1]
    # Check digit first: a mistyped digit anywhere shows up here, and that is the message an
    # agent needs ("read it again"), even when the typo also made the date impossible.
    if luhn_check_digit(payload) != check:
        raise InvalidTicketNumber(f"ticket number {s!r} fails its check digit: a digit is wrong")
    try:
        day = date(int(payload[0:4]), int(payload[4:6]), int(payload[6:8]))
    except ValueError as exc:
        raise InvalidTicketNumber(f"ticket number {s!r} has no valid date: {exc}") from exc
    seq = int(payload[8:])
    if seq == 0:
        raise InvalidTicketNumber(f"ticket number {s!r} has sequence 000000, never issued")
    return day, seq
