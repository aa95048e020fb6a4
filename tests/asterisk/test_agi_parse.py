import pytest

from hotline.asterisk.agi import AgiCommandError, AgiResult, parse_result


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("200 result=0", AgiResult(200, "0", "")),
        ("200 result=49 endpos=1234", AgiResult(200, "49", "")),
        ("200 result= (timeout)", AgiResult(200, "", "timeout")),
        ("200 result=1 (some value)", AgiResult(200, "1", "some value")),
        ("200 result=-1 endpos=0", AgiResult(200, "-1", "")),
        (
            "511 Command Not Permitted on a dead channel",
            AgiResult(511, "", "Command Not Permitted on a dead channel"),
        ),
        ("510 Invalid or unknown command", AgiResult(510, "", "Invalid or unknown command")),
    ],
)
def test_agi_responses(line: str, expected: AgiResult) -> None:
    assert parse_result(line) == expected


def test_garbage_is_an_error() -> None:
    with pytest.raises(AgiCommandError):
        parse_result("hello")
