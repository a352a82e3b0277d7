"""Dates, times, timestamps and durations: java.time's ISO texts and Cassandra's duration text,
rendered column by column and parsed value by value."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from .base import _I32, _I64, _INT_RE, TextCodecError
from .columns import _STR, _join, _lit, _patch
from .nodes import _Node


def _civil(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day count since 1970-01-01, for any int."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= 1 if month <= 2 else 0
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _year_text(year: int) -> str:
    # java.time's ISO year: at least 4 digits, '+' beyond 9999, '-' before year 0.
    if year > 9999:
        return f"+{year}"
    if year < 0:
        return f"-{-year:04d}"
    return f"{year:04d}"


def _date_text(days: int) -> str:
    y, m, d = _civil(days)
    return f"{_year_text(y)}-{m:02d}-{d:02d}"


def _fraction(value: int, digits: int) -> str:
    return "." + f"{value:0{digits}d}".rstrip("0") if value else ""


def _time_text(nanos: int) -> str:
    seconds, frac = divmod(nanos, 1_000_000_000)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{_fraction(frac, 9)}"


_PER_SECOND = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}


def _timestamp_text(value: int, unit: str) -> str:
    per = _PER_SECOND[unit]
    seconds, frac = divmod(value, per)
    days, sod = divmod(seconds, 86_400)
    digits = len(str(per)) - 1
    return f"{_date_text(days)}T{_time_text(sod * 1_000_000_000)}{_fraction(frac, digits)}Z"


_DURATION_UNITS = (
    (3_600_000_000_000, "h"),
    (60_000_000_000, "m"),
    (1_000_000_000, "s"),
    (1_000_000, "ms"),
    (1000, "us"),
    (1, "ns"),
)


def _duration_text(months: int, days: int, nanos: int) -> str:
    """Cassandra's Duration.toString (years and months, days, then h m s ms us ns; no weeks)."""
    if months == 0 and days == 0 and nanos == 0:
        return "0s"  # Cassandra prints "", which DSBulk would read back as null
    out = ["-"] if months < 0 or days < 0 or nanos < 0 else []
    months, days, nanos = abs(months), abs(days), abs(nanos)
    if months >= 12:
        out.append(f"{months // 12}y")
    if months % 12:
        out.append(f"{months % 12}mo")
    if days:
        out.append(f"{days}d")
    for size, unit in _DURATION_UNITS:
        if nanos >= size:
            out.append(f"{nanos // size}{unit}")
            nanos %= size
    return "".join(out)


# Years 0000-9999: Arrow's own date/timestamp text is exactly java.time's ISO text there.
_VEC_MIN_DAY, _VEC_MAX_DAY = -719_528, 2_932_896


_DATE_RE = re.compile(r"([+-]?[0-9]{4,})-([0-9]{2})-([0-9]{2})\Z")
_TIME_RE = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?\Z")
_TIMESTAMP_RE = re.compile(
    r"([+-]?[0-9]{4,})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?)?"
    r"\s*(Z|[+-][0-9]{2}(?::?[0-9]{2})?|UTC|GMT)?\Z",
    re.I,
)
_DURATION_STD_RE = re.compile(r"([0-9]+)(mo|ms|us|µs|ns|y|w|d|h|m|s)", re.I)
_DURATION_ISO_RE = re.compile(
    r"P(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)S)?)?\Z"
)
_DURATION_ISO_WEEK_RE = re.compile(r"P([0-9]+)W\Z")
_DURATION_ISO_ALT_RE = re.compile(r"P([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\Z")
_NANOS = {"h": 3_600_000_000_000, "m": 60_000_000_000, "s": 1_000_000_000, "ms": 1_000_000, "us": 1000, "ns": 1}
_UNIT_ORDER = {"y": 1, "mo": 2, "w": 3, "d": 4, "h": 5, "m": 6, "s": 7, "ms": 8, "us": 9, "ns": 10}


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _ymd(s: str, node: _Node, year: str, month: str, day: str) -> int:
    y, m, d = int(year), int(month), int(day)
    if not 1 <= m <= 12 or not 1 <= d <= _days_in_month(y, m):
        raise TextCodecError(s, node.cql, "no such calendar date")
    return _days_from_civil(y, m, d)


def _parse_date(s: str, node: _Node) -> int:
    m = _DATE_RE.match(s.strip())
    if m is None:
        raise TextCodecError(s, node.cql, "expected yyyy-MM-dd")
    days = _ymd(s, node, *m.groups())
    if not -(2**31) <= days <= _I32:
        raise TextCodecError(s, node.cql, "outside the CQL date range (-5877641-06-23..+5881580-07-11)")
    return days


def _clock(s: str, node: _Node, hour: str | None, minute: str | None, second: str | None) -> int:
    h, mi, sec = int(hour or 0), int(minute or 0), int(second or 0)
    if h > 23 or mi > 59 or sec > 59:
        raise TextCodecError(s, node.cql, "no such time of day")
    return (h * 60 + mi) * 60 + sec


def _parse_time(s: str, node: _Node) -> int:
    text = s.strip()
    if _INT_RE.match(text) and not text.startswith(("+", "-")):
        nanos = int(text)  # CQL also takes a time as nanoseconds since midnight
        if nanos >= 86_400_000_000_000:
            raise TextCodecError(s, node.cql, "beyond 23:59:59.999999999")
        return nanos
    m = _TIME_RE.match(text)
    if m is None:
        raise TextCodecError(s, node.cql, "expected HH:mm[:ss[.fffffffff]]")
    hour, minute, second, frac = m.groups()
    return _clock(s, node, hour, minute, second) * 1_000_000_000 + int((frac or "").ljust(9, "0"))


def _parse_timestamp(s: str, node: _Node) -> int:
    text = s.strip()
    unit = node.arrow.unit
    per = _PER_SECOND[unit]
    if _INT_RE.match(text):
        value = int(text)  # units since the epoch (milliseconds for CQL timestamps)
    else:
        m = _TIMESTAMP_RE.match(text)
        if m is None:
            raise TextCodecError(s, node.cql, "expected an ISO-8601 date-time like 2024-01-01T00:00:00Z")
        year, month, day, hour, minute, second, frac, zone = m.groups()
        days = _ymd(s, node, year, month, day)
        offset = 0
        if zone and zone.upper() not in ("Z", "UTC", "GMT"):
            digits = zone[1:].replace(":", "")
            hh, mm = int(digits[:2]), int(digits[2:] or 0)
            if hh > 18 or mm > 59:
                raise TextCodecError(s, node.cql, "invalid UTC offset")
            offset = (1 if zone[0] == "+" else -1) * (hh * 3600 + mm * 60)
        seconds = days * 86_400 + _clock(s, node, hour, minute, second) - offset
        # Sub-unit digits are dropped (floor), as DSBulk does when converting to epoch units.
        value = seconds * per + int((frac or "").ljust(9, "0")) // (1_000_000_000 // per)
    if not -(2**63) <= value <= _I64:
        raise TextCodecError(s, node.cql, "outside the 64-bit timestamp range")
    return value


_DURATION_FORMS = "expected a duration like 1y2mo3d4h5m6s or P1Y2M3DT4H5M6S"
_UNIT_SLOTS = {"y": (0, 12), "mo": (0, 1), "w": (1, 7), "d": (1, 1)}
"""Where a unit adds up: (0 months | 1 days, multiplier); every other unit is nanoseconds."""


def _iso_duration(body: str) -> tuple[int, int, int]:
    """(months, days, nanoseconds) of an ISO-8601 duration; ValueError(reason) when it is not one."""
    if (m := _DURATION_ISO_WEEK_RE.match(body)) is not None:
        return 0, int(m.group(1)) * 7, 0
    m = _DURATION_ISO_ALT_RE.match(body) if "-" in body else _DURATION_ISO_RE.match(body)
    if m is None or body == "P" or body.endswith("T"):
        raise ValueError(_DURATION_FORMS)
    y, mo, d, h, mi, sec = (int(g or 0) for g in m.groups())
    return y * 12 + mo, d, h * _NANOS["h"] + mi * _NANOS["m"] + sec * _NANOS["s"]


def _unit_duration(body: str) -> tuple[int, int, int]:
    """(months, days, nanoseconds) of CQL's ``1y2mo3d4h5m6s``; ValueError(reason) when it is not one."""
    totals = [0, 0, 0]
    pos, last = 0, 0
    while pos < len(body):
        m = _DURATION_STD_RE.match(body, pos)
        if m is None:
            raise ValueError(_DURATION_FORMS)
        number, unit = int(m.group(1)), m.group(2).lower().replace("µ", "u")
        order = _UNIT_ORDER[unit]
        if order <= last:
            raise ValueError(f"unit {unit!r} repeated or out of order")
        last, pos = order, m.end()
        slot, scale = _UNIT_SLOTS.get(unit, (2, _NANOS.get(unit, 1)))
        totals[slot] += number * scale
    if pos == 0:
        raise ValueError(_DURATION_FORMS)
    return totals[0], totals[1], totals[2]


def _parse_duration(s: str, node: _Node) -> dict[str, int]:
    text = s.strip()
    if not text:
        return {"months": 0, "days": 0, "nanoseconds": 0}  # DSBulk writes a zero duration as ""
    negative = text.startswith("-")
    body = text[1:] if negative else text
    try:
        months, days, nanos = _iso_duration(body) if body.startswith("P") else _unit_duration(body)
    except ValueError as exc:
        raise TextCodecError(s, node.cql, str(exc)) from None
    # Magnitudes: a negative duration reaches one further (-2**31 months, -2**63 nanoseconds).
    extra = 1 if negative else 0
    if months > _I32 + extra or days > _I32 + extra or nanos > _I64 + extra:
        raise TextCodecError(s, node.cql, "too large for a CQL duration")
    sign = -1 if negative else 1
    return {"months": sign * months, "days": sign * days, "nanoseconds": sign * nanos}


# -- columns as text ----------------------------------------------------------------------------


def _date_col_text(arr: pa.Array) -> pa.Array:
    days = pc.cast(arr, pa.int32())
    text = pc.cast(arr, _STR)
    outside = pc.or_(pc.less(days, _VEC_MIN_DAY), pc.greater(days, _VEC_MAX_DAY))
    return _patch(text, outside, days, _date_text)


def _time_col_text(arr: pa.Array) -> pa.Array:
    if arr.type != pa.time64("ns"):
        arr = pc.cast(arr, pa.time64("ns"))
    text = pc.cast(arr, _STR)  # always HH:MM:SS.nnnnnnnnn: drop the zeros java.time leaves out
    return pc.utf8_rtrim(pc.utf8_rtrim(text, characters="0"), characters=".")


def _timestamp_col_text(arr: pa.Array) -> pa.Array:
    unit = arr.type.unit
    per = _PER_SECOND[unit]
    ints = pc.cast(arr, pa.int64())
    text = pc.cast(pc.cast(ints, pa.timestamp(unit)), _STR)  # yyyy-MM-dd HH:mm:ss[.fff]
    if unit != "s":  # the fraction is always there: drop the zeros java.time leaves out
        text = pc.utf8_rtrim(pc.utf8_rtrim(text, characters="0"), characters=".")
    text = _join(pc.replace_substring(text, " ", "T", max_replacements=1), _lit("Z"))
    # Clamped to int64: in nanoseconds the whole range lies inside years 1677-2262.
    low = max(_VEC_MIN_DAY * 86_400 * per, -(2**63))
    high = min((_VEC_MAX_DAY + 1) * 86_400 * per - 1, _I64)
    outside = pc.or_(pc.less(ints, low), pc.greater(ints, high))
    return _patch(text, outside, ints, lambda v: _timestamp_text(v, unit))


def _duration_col_text(arr: pa.Array) -> pa.Array:
    months, days, nanos = (arr.field(i).to_pylist() for i in range(3))
    valid = arr.is_valid().to_pylist()
    out = [
        _duration_text(m or 0, d or 0, ns or 0) if ok else None
        for ok, m, d, ns in zip(valid, months, days, nanos, strict=True)
    ]
    return pa.array(out, _STR)
