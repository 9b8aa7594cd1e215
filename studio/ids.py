"""Reading row ids (and other whole numbers) that arrive as text: query strings, form fields,
JSON values, headers.

``str.isdigit`` is not enough (it accepts "²", which ``int`` refuses) and ``int`` alone accepts
" 7", "-1" and numbers no database column holds (SQLite raises ``OverflowError`` on an ``__in``
lookup with one). Every view and API route that takes an id from a request reads it here, and
treats ``None`` as "no such row" (404, or a form error with a message saying what to do).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: The largest id a 64-bit primary key holds.
MAX_ID = 2**63 - 1

_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_int(value: object, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """``value`` as an int in ``minimum..maximum``, or ``None``.

    Accepted: an ``int`` (not a ``bool``) or a string of ASCII digits (at most 19, no sign, no
    spaces). Anything else (a float, "1.5", "abc", "²", " 7", "-1", None, a list) is ``None``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if minimum <= number <= maximum else None


def parse_id(value: object) -> int | None:
    """A row id (1 ... ``MAX_ID``) or ``None``."""
    return parse_int(value, minimum=1)


def parse_ids(values: Iterable[object]) -> tuple[list[int], bool]:
    """The ids among ``values`` (in order, repeats dropped) and whether any value was not one."""
    ids: list[int] = []
    bad = False
    for value in values:
        number = parse_id(value)
        if number is None:
            bad = True
        elif number not in ids:
            ids.append(number)
    return ids, bad
