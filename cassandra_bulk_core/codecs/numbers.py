"""Numbers from text: integers, varints, decimals and floats, exactly or not at all (DSBulk's
``codec.overflowStrategy``)."""

from __future__ import annotations

import decimal
import math
import re

import pyarrow as pa
import pyarrow.compute as pc

from .base import _INT_RE, DOUBLE, FLOAT, TextCodecError
from .columns import _STR
from .nodes import _Node

_FLOAT_RE = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)\Z", re.I)


def _int_range(t: pa.DataType) -> tuple[int, int]:
    bits = t.bit_width
    if pa.types.is_unsigned_integer(t):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _finite_decimal(s: str, node: _Node, not_finite: str = "invalid literal") -> decimal.Decimal:
    """The exact decimal value of ``s`` (ASCII, blanks around allowed); ``not_finite`` for NaN/Infinity."""
    try:
        if not s.isascii():
            raise decimal.InvalidOperation
        dec = decimal.Decimal(s.strip())
    except decimal.InvalidOperation:
        raise TextCodecError(s, node.cql, "invalid literal") from None
    if not dec.is_finite():
        raise TextCodecError(s, node.cql, not_finite)
    return dec


def _parse_integer(s: str, node: _Node) -> int:
    text = s.strip()
    if text.isascii() and _INT_RE.match(text) and len(text) <= 40:
        value = int(text)
    else:
        dec = _finite_decimal(s, node)  # DSBulk accepts any exactly integral number ("1.0", "1E3")
        if dec.adjusted() > 40 or dec != dec.to_integral_value():
            raise TextCodecError(s, node.cql, "not an integer")
        value = int(dec)
    lo, hi = _int_range(node.arrow)
    if not lo <= value <= hi:
        raise TextCodecError(s, node.cql, f"out of range ({lo}..{hi})")
    return value


def _parse_exact(s: str, node: _Node) -> decimal.Decimal:
    t = node.arrow
    dec = _finite_decimal(s, node)
    if dec.adjusted() >= t.precision - t.scale:
        raise TextCodecError(s, node.cql, f"more than {t.precision - t.scale} digits (Arrow {t})")
    ctx = decimal.Context(prec=t.precision + 2)
    quantized = dec.quantize(decimal.Decimal(1).scaleb(-t.scale), context=ctx)
    if quantized != dec:
        raise TextCodecError(s, node.cql, "not an integer" if t.scale == 0 else f"more than {t.scale} decimals")
    return quantized


_MAX_VARINT_DIGITS = 1_000_000
"""A sanity bound on a varint's digits (``1E999999999`` would otherwise build a gigabyte string)."""


def _parse_varint_digits(s: str, node: _Node) -> str:
    """A varint (Arrow string) as its canonical digits, unbounded; never through ``int()``, whose
    text conversion Python limits to 4300 digits. Any exactly integral number is accepted, as
    DSBulk does (``1.0``, ``1E3``)."""
    text = s.strip()
    if text.isascii() and _INT_RE.match(text):
        digits = text.lstrip("+-").lstrip("0") or "0"
        return "-" + digits if text[0] == "-" and digits != "0" else digits
    sign, raw, exp = _finite_decimal(s, node).as_tuple()
    assert isinstance(exp, int)  # finite
    coefficient = "".join(map(str, raw))
    if len(coefficient) + exp > _MAX_VARINT_DIGITS:
        raise TextCodecError(s, node.cql, f"more than {_MAX_VARINT_DIGITS} digits")
    if exp >= 0:
        whole = coefficient + "0" * exp
    else:
        whole, fraction = coefficient[:exp], coefficient[exp:]
        if fraction.strip("0"):
            raise TextCodecError(s, node.cql, "not an integer")
    digits = whole.lstrip("0") or "0"
    return "-" + digits if sign and digits != "0" else digits


def _parse_decimal(s: str, node: _Node) -> str:
    # the canonical literal, as the driver's Decimal prints it
    return str(_finite_decimal(s, node, "a CQL decimal cannot be NaN or infinite"))


_FLOAT_DIGITS = {FLOAT: 6, DOUBLE: 15}
"""Significant decimal digits that always survive a trip through the type (FLT_DIG, DBL_DIG)."""
_MIN_NORMAL = {FLOAT: 1.1754943508222875e-38, DOUBLE: 2.2250738585072014e-308}
"""Below these magnitudes (subnormals) a type holds fewer digits."""


def _shortest(value: float, kind: str) -> str:
    """The shortest text that reads back as ``value`` in its type (Java's Float/Double.toString digits)."""
    if kind == DOUBLE:
        return repr(value)
    return str(pc.cast(pa.scalar(value, pa.float32()), _STR).as_py())


def _loses_precision(text: str, value: float, kind: str) -> bool:
    """True when the decimal ``text`` says more than the stored ``value`` holds: DSBulk's
    ``overflowStrategy REJECT``. The text is accepted when it is the value's exact binary
    expansion rounded (a tie either way) to the text's own number of significant digits: ``0.1``, Java's
    ``4.9E-324`` and C's ``%.17g`` pass; ``0.12345678901234567890123`` (whose trailing digits the
    double cannot hold), ``9007199254740993`` and an underflow (``1e-400`` → 0) do not."""
    if not math.isfinite(value):
        return False
    try:
        given = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return False
    if not given.is_finite():
        return False
    exact = decimal.Decimal(value)  # a float32 value is exact as a double too
    if exact == given:
        return False
    # The value's shortest round-trip text (what Java's Float/Double.toString, DSBulk's own test,
    # and our exports print) is never a loss, even where it is not the nearest decimal of its length
    # (float 2**87 prints as 1.5474251E26).
    if decimal.Decimal(_shortest(value, kind)) == given:
        return False
    digits = len(given.normalize().as_tuple().digits)
    # Either way of breaking a tie is a faithful rounding: shortest-repr printers (Java's, Python's
    # repr) may round 5.9604644775390625e-08 (2**-24) up to ...063 as well as down to ...062.
    return all(
        decimal.Context(prec=digits, rounding=mode).plus(exact) != given
        for mode in (decimal.ROUND_HALF_UP, decimal.ROUND_HALF_DOWN)
    )


def _parse_floating(s: str, node: _Node, lossy: bool = False) -> float:
    text = s.strip()
    if not _FLOAT_RE.match(text):
        raise TextCodecError(s, node.cql, "invalid literal")
    if node.kind == DOUBLE:
        value = float(text)
    else:
        # Arrow's cast rounds the decimal straight to the nearest float32 (not through a double,
        # which could land on a float32 midpoint), exactly as the vectorized path does.
        try:
            value = pc.cast(pa.scalar(text, _STR), pa.float32()).as_py()
        except pa.ArrowInvalid:
            raise TextCodecError(s, node.cql, "invalid literal") from None
    if math.isinf(value) and "inf" not in text.lower():  # both casts turn an overflow into infinity
        raise TextCodecError(s, node.cql, f"out of range for {node.cql}")
    if not lossy and _loses_precision(text, value, node.kind):
        raise TextCodecError(
            s,
            node.cql,
            f"loses precision as a {node.cql} (it would be stored as {_shortest(value, node.kind)}); "
            "allow precision loss to round it",
        )
    return float(value)


def _precise(cleaned: pa.Array, result: pa.Array, kind: str) -> bool:
    """Whether every parsed float/double holds its text's exact decimal value (see
    :func:`_loses_precision`). Vectorized: a text of at most FLT_DIG/DBL_DIG significant digits in
    the normal range always survives; only the others are checked one by one."""
    mantissa = pc.replace_substring_regex(pc.utf8_trim_whitespace(cleaned), r"[eE].*$", "")
    digits = pc.replace_substring_regex(mantissa, r"[^0-9]", "")
    significant = pc.utf8_length(pc.utf8_rtrim(pc.utf8_ltrim(digits, characters="0"), characters="0"))
    magnitude = pc.abs(result)
    # Subnormal or zero from a text that is not zero: fewer digits survive (or none, an underflow).
    subnormal = pc.and_(pc.less(magnitude, _MIN_NORMAL[kind]), pc.greater(significant, 0))
    suspect = pc.fill_null(pc.or_(pc.greater(significant, _FLOAT_DIGITS[kind]), subnormal), False)
    if not pc.any(suspect).as_py():
        return True
    texts = pc.filter(cleaned, suspect).to_pylist()
    values = pc.filter(result, suspect).to_pylist()
    return not any(_loses_precision(t.strip(), v, kind) for t, v in zip(texts, values, strict=True))
