"""HTTP Range requests (RFC 9110 14.2), the pure part: which bytes of a file of ``size`` to send.

One range only (an audio player seeks with one); several ranges or a unit other than bytes are
answered with the whole file, as the RFC allows a server that ignores Range to do. A range that
parses but cannot be satisfied (starts past the end, or the file is empty) is 416.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ONE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(ValueError):
    """416: the range lies outside the file (or makes no sense)."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def partial(self) -> bool:
        return not (self.start == 0 and self.end == self.size - 1)

    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"

    def logged(self) -> str:
        return f"bytes={self.start}-{self.end}" if self.partial else "all"


def select(header: str | None, size: int) -> ByteRange | None:
    """The range to serve; None: the whole file (no Range header, or one we ignore)."""
    if not header or "," in header:
        return None
    m = _ONE.match(header)
    if m is None:
        if header.strip().lower().startswith("bytes"):
            raise Unsatisfiable(f"malformed range {header!r}")
        return None  # another unit: ignore, serve everything
    first, last = m.group(1), m.group(2)
    if first == "" and last == "":
        raise Unsatisfiable(f"malformed range {header!r}")
    if first == "":  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable(f"range {header!r} of a {size}-byte file")
        return ByteRange(max(0, size - n), size - 1, size)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        raise Unsatisfiable(f"range {header!r} of a {size}-byte file")
    return ByteRange(start, end, size)
