from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.tickets.numbers import (
    InvalidTicketNumber,
    luhn_check_digit,
    make_ticket_number,
    parse_ticket_number,
)

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
seqs = st.integers(min_value=1, max_value=999_999)


def test_known_number() -> None:
    # Payload 20261008000123, by hand. Right to left: 3 2 1 0 0 0 8 0 0 1 6 2 0 2; every
    # other one from the rightmost is doubled (minus 9 when over 9): 6 2 2 0 0 0 7 0 0 1 3 2 0 2,
    # sum 25, check digit (10 - 25 % 10) % 10 = 5.
    assert make_ticket_number(date(2026, 10, 8), 123) == "202610080001235"
    assert luhn_check_digit("7992739871") == "3"  # the textbook Luhn example


@given(days, seqs)
def test_round_trip(day: date, seq: int) -> None:
    number = make_ticket_number(day, seq)
    assert len(number) == 15 and number.isdigit()
    assert parse_ticket_number(number) == (day, seq)


def test_agent_typing_is_accepted() -> None:
    number = make_ticket_number(date(2026, 10, 8), 123)
    expected = (date(2026, 10, 8), 123)
    assert parse_ticket_number("20261008-000123-5") == expected
    assert parse_ticket_number(" 2026 1008 0001 235 ") == expected
    assert parse_ticket_number("２０２６１００８－０００１２３－５") == expected  # full-width IME
    assert parse_ticket_number(number) == expected


@given(days, seqs)
def test_every_single_digit_substitution_is_detected(day: date, seq: int) -> None:
    number = make_ticket_number(day, seq)
    for i, original in enumerate(number):
        for digit in "0123456789":
            if digit != original:
                with pytest.raises(InvalidTicketNumber):
                    parse_ticket_number(number[:i] + digit + number[i + 1 :])


@given(days, seqs)
def test_adjacent_transpositions_are_detected_except_09(day: date, seq: int) -> None:
    # Luhn's known blind spot: swapping "09" and "90" keeps the sum. Every other swap of two
    # different adjacent digits, the check digit included, is caught.
    number = make_ticket_number(day, seq)
    for i in range(len(number) - 1):
        a, b = number[i], number[i + 1]
        if a == b:
            continue
        swapped = number[:i] + b + a + number[i + 2 :]
        if {a, b} == {"0", "9"}:
            continue  # may pass: see test_the_09_blind_spot_is_real
        with pytest.raises(InvalidTicketNumber):
            parse_ticket_number(swapped)


def test_the_09_blind_spot_is_real() -> None:
    # 2026-10-09, seq 1: "20261009" has "09" at positions 6-7; swapped it reads 2026-10-90,
    # which the date check rejects, not the check digit: the message says so.
    number = make_ticket_number(date(2026, 10, 9), 1)
    swapped = number[:6] + "90" + number[8:]
    with pytest.raises(InvalidTicketNumber, match="no valid date"):
        parse_ticket_number(swapped)
    # In the sequence a 09 <-> 90 swap gives another valid number: seq 90 vs seq 9.
    n9 = make_ticket_number(date(2026, 10, 8), 9)  # ...000009
    n90 = n9[:12] + "90" + n9[14:]
    assert parse_ticket_number(n90) == (date(2026, 10, 8), 90)


def test_bad_format() -> None:
    with pytest.raises(InvalidTicketNumber, match="15"):
        parse_ticket_number("2026100800012")
    with pytest.raises(InvalidTicketNumber, match="other than digits"):
        parse_ticket_number("20261008A001235")
    with pytest.raises(InvalidTicketNumber):
        parse_ticket_number("")


def test_bad_date_with_a_valid_check_digit() -> None:
    for payload in ("20260230000001", "20261300000001", "20260000000001"):
        with pytest.raises(InvalidTicketNumber, match="no valid date"):
            parse_ticket_number(payload + luhn_check_digit(payload))


def test_sequence_zero_is_never_issued() -> None:
    payload = "20261008000000"
    with pytest.raises(InvalidTicketNumber, match="000000"):
        parse_ticket_number(payload + luhn_check_digit(payload))
    with pytest.raises(ValueError):
        make_ticket_number(date(2026, 10, 8), 0)
    with pytest.raises(ValueError):
        make_ticket_number(date(2026, 10, 8), 1_000_000)
