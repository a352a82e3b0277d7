//! Encode a chunk's Arrow columns straight into CQL wire values, one bound-values blob per row.
//!
//! The load side of the crate (`cassandra_bulk_core.types.encode` is the caller). For every row it
//! writes what the driver's `BatchMessage`/`ExecuteMessage` would write for the row's values:
//! `[short n]` then, per value, `[int32 length][bytes]` (length -1: null, -2: unset). It also
//! returns the row's routing key (the partition key values, composite-encoded when there are
//! several). The bytes are exactly the Python path's (`cassandra_bulk_core.wire` and the driver's
//! serializers): a column whose values this module cannot reproduce exactly (a varint or decimal
//! text it does not parse strictly, a scale outside int32) is reported, and the caller serializes
//! that column the Python way and passes its values in (a `LIST` column).
//!
//! Arrow buffers are read in place: Python passes each buffer's address and size (a
//! `pyarrow.Buffer` keeps the memory alive for the duration of the call, which holds the GIL).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

const I8: u8 = 1;
const I16: u8 = 2;
const I32: u8 = 3;
const I64: u8 = 4;
const F32: u8 = 5;
const F64: u8 = 6;
const BOOL: u8 = 7;
const DATE: u8 = 8;
const FIXED16: u8 = 9;
const BYTES: u8 = 10;
const LARGE_BYTES: u8 = 11;
const VARINT: u8 = 12;
const DECIMAL: u8 = 13;
const CONST: u8 = 14;
const LIST: u8 = 15;

/// A read-only view of a buffer Python owns.
fn view<'a>(addr: usize, size: usize) -> &'a [u8] {
    if addr == 0 || size == 0 {
        &[]
    } else {
        // SAFETY: the caller passes the address and size of a live pyarrow buffer it holds a
        // reference to for the whole call (the GIL is held throughout).
        unsafe { std::slice::from_raw_parts(addr as *const u8, size) }
    }
}

fn bit(bits: &[u8], i: usize) -> Result<bool, String> {
    bits.get(i / 8)
        .map(|b| b & (1 << (i % 8)) != 0)
        .ok_or_else(|| "bitmap too short".to_string())
}

/// One column as the encoder reads it.
enum Col<'py> {
    /// An Arrow array: kind, validity bitmap (empty: none), element offset, values, offsets.
    Arrow {
        kind: u8,
        valid: &'static [u8],
        off: usize,
        data: &'static [u8],
        offsets: &'static [u8],
    },
    /// Values serialized in Python: bytes, None (null) or the unset marker, one per row.
    Values(Vec<Bound<'py, PyAny>>),
    /// The same value for every row (`None`: null, the unset marker: unset).
    Const(Option<Vec<u8>>, i32),
}

fn get(b: &[u8], at: usize, n: usize) -> Result<&[u8], String> {
    b.get(at..at + n)
        .ok_or_else(|| "buffer too short".to_string())
}

fn var_range(offsets: &[u8], large: bool, i: usize) -> Result<(usize, usize), String> {
    if large {
        let a = i64::from_le_bytes(get(offsets, i * 8, 8)?.try_into().unwrap());
        let b = i64::from_le_bytes(get(offsets, (i + 1) * 8, 8)?.try_into().unwrap());
        if a < 0 || b < a {
            return Err("bad offsets".into());
        }
        Ok((a as usize, b as usize))
    } else {
        let a = i32::from_le_bytes(get(offsets, i * 4, 4)?.try_into().unwrap());
        let b = i32::from_le_bytes(get(offsets, (i + 1) * 4, 4)?.try_into().unwrap());
        if a < 0 || b < a {
            return Err("bad offsets".into());
        }
        Ok((a as usize, b as usize))
    }
}

/// Why a column cannot be encoded here: the caller serializes it the Python way instead.
struct NotExact;

/// `[int32 length][bytes]` of one value.
#[inline]
fn put(out: &mut Vec<u8>, v: &[u8]) {
    out.extend_from_slice(&(v.len() as i32).to_be_bytes());
    out.extend_from_slice(v);
}

/// Minimal big-endian magnitude of an unsigned decimal digit string (empty for 0).
fn magnitude(digits: &[u8]) -> Vec<u8> {
    // Little-endian base 2^32 limbs, multiplied by 10^9 per group of nine digits.
    let mut limbs: Vec<u32> = Vec::new();
    let mut start = 0;
    let first = digits.len() % 9;
    let mut step = if first == 0 { 9 } else { first };
    while start < digits.len() {
        let chunk = &digits[start..start + step];
        let mut add: u64 = 0;
        for d in chunk {
            add = add * 10 + (d - b'0') as u64;
        }
        let mul: u64 = 10u64.pow(step as u32);
        let mut carry = add;
        for l in limbs.iter_mut() {
            let v = (*l as u64) * mul + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
        start += step;
        step = 9;
    }
    let mut out: Vec<u8> = limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
    let lead = out.iter().take_while(|b| **b == 0).count();
    out.drain(..lead);
    out
}

/// The driver's `varint_pack` of `(-1 if negative else 1) * digits`: minimal two's complement.
fn varint_from_digits(negative: bool, digits: &[u8], out: &mut Vec<u8>) {
    let mut mag = magnitude(digits);
    if mag.is_empty() {
        out.push(0);
        return;
    }
    if !negative {
        if mag[0] & 0x80 != 0 {
            out.push(0);
        }
        out.extend_from_slice(&mag);
        return;
    }
    // -m: the bytes of m - 1, inverted, with a 0xff byte in front when its top bit is set.
    for b in mag.iter_mut().rev() {
        if *b == 0 {
            *b = 0xff;
        } else {
            *b -= 1;
            break;
        }
    }
    let lead = mag.iter().take_while(|b| **b == 0).count();
    mag.drain(..lead);
    if mag.is_empty() || mag[0] & 0x80 != 0 {
        out.push(0xff);
    }
    out.extend(mag.iter().map(|b| !b));
}

/// `int(text)` for the strict form `[+-]?[0-9]+` only.
fn varint_text(text: &[u8], out: &mut Vec<u8>) -> Result<(), NotExact> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(NotExact);
    }
    varint_from_digits(negative, digits, out);
    Ok(())
}

/// `DecimalType.serialize(Decimal(text))` for the strict form
/// `[+-]?([0-9]+.?[0-9]*|.[0-9]+)([eE][+-]?[0-9]+)?`: int32 scale, then the unscaled varint.
fn decimal_text(text: &[u8], out: &mut Vec<u8>, digits: &mut Vec<u8>) -> Result<(), NotExact> {
    let (negative, rest) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mant_end = rest
        .iter()
        .position(|b| *b == b'e' || *b == b'E')
        .unwrap_or(rest.len());
    let (mant, exp) = (&rest[..mant_end], &rest[mant_end..]);
    digits.clear();
    let mut fraction: i64 = 0;
    let mut point = false;
    for b in mant {
        match b {
            b'0'..=b'9' => {
                digits.push(*b);
                if point {
                    fraction += 1;
                }
            }
            b'.' if !point => point = true,
            _ => return Err(NotExact),
        }
    }
    if digits.is_empty() {
        return Err(NotExact);
    }
    let mut exponent: i64 = 0;
    if !exp.is_empty() {
        let e = &exp[1..];
        let (eneg, edigits) = match e.first() {
            Some(b'-') => (true, &e[1..]),
            Some(b'+') => (false, &e[1..]),
            _ => (false, e),
        };
        if edigits.is_empty() || edigits.len() > 12 || !edigits.iter().all(u8::is_ascii_digit) {
            return Err(NotExact);
        }
        for d in edigits {
            exponent = exponent * 10 + (d - b'0') as i64;
        }
        if eneg {
            exponent = -exponent;
        }
    }
    let scale = fraction - exponent;
    if scale < i32::MIN as i64 || scale > i32::MAX as i64 {
        return Err(NotExact);
    }
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(scale as i32).to_be_bytes());
    varint_from_digits(negative, digits, out);
    let len = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

enum Fail {
    Column(usize),
    Error(String),
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::Error(s)
    }
}

/// Append column `j`'s value of row `r` (`[int32 length][bytes]`) to `out`.
fn encode_cell(
    col: &Col<'_>,
    j: usize,
    r: usize,
    null: i32,
    unset: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<(), Fail> {
    match col {
        Col::Const(v, len) => {
            match v {
                Some(b) => put(out, b),
                None => out.extend_from_slice(&len.to_be_bytes()),
            }
            Ok(())
        }
        Col::Values(values) => {
            let v = values
                .get(r)
                .ok_or_else(|| "values list too short".to_string())?;
            if let Ok(b) = v.downcast::<PyBytes>() {
                put(out, b.as_bytes());
            } else if v.is_none() {
                out.extend_from_slice(&(-1i32).to_be_bytes());
            } else if v.is(unset) {
                out.extend_from_slice(&(-2i32).to_be_bytes());
            } else {
                return Err(Fail::Error(format!(
                    "column {j}: a value that is not bytes"
                )));
            }
            Ok(())
        }
        Col::Arrow {
            kind,
            valid,
            off,
            data,
            offsets,
        } => {
            let i = off + r;
            if !valid.is_empty() && !bit(valid, i)? {
                out.extend_from_slice(&null.to_be_bytes());
                return Ok(());
            }
            match *kind {
                I8 => put(out, get(data, i, 1)?),
                I16 => {
                    let v = get(data, i * 2, 2)?;
                    put(out, &[v[1], v[0]]);
                }
                I32 | F32 => {
                    let mut v: [u8; 4] = get(data, i * 4, 4)?.try_into().unwrap();
                    if *kind == F32 {
                        let bits = u32::from_le_bytes(v);
                        // Python packs a float32 through a double: a NaN comes back quiet.
                        let f = f32::from_bits(bits);
                        let bits = if f.is_nan() { bits | 0x0040_0000 } else { bits };
                        v = bits.to_le_bytes();
                    }
                    v.reverse();
                    put(out, &v);
                }
                I64 | F64 => {
                    let mut v: [u8; 8] = get(data, i * 8, 8)?.try_into().unwrap();
                    v.reverse();
                    put(out, &v);
                }
                DATE => {
                    let d = i32::from_le_bytes(get(data, i * 4, 4)?.try_into().unwrap());
                    let w = (d as i64 + (1i64 << 31)) as u32;
                    put(out, &w.to_be_bytes());
                }
                BOOL => put(out, if bit(data, i)? { &[1] } else { &[0] }),
                FIXED16 => put(out, get(data, i * 16, 16)?),
                BYTES | LARGE_BYTES => {
                    let (a, b) = var_range(offsets, *kind == LARGE_BYTES, i)?;
                    put(out, get(data, a, b - a)?);
                }
                VARINT => {
                    let (a, b) = var_range(offsets, false, i)?;
                    scratch.clear();
                    varint_text(get(data, a, b - a)?, scratch).map_err(|_| Fail::Column(j))?;
                    put(out, scratch);
                }
                DECIMAL => {
                    let (a, b) = var_range(offsets, false, i)?;
                    let text = get(data, a, b - a)?;
                    let mut digits = Vec::new();
                    decimal_text(text, out, &mut digits).map_err(|_| Fail::Column(j))?;
                }
                k => return Err(Fail::Error(format!("column {j}: unknown kind {k}"))),
            }
            Ok(())
        }
    }
}

type Spec<'py> = (
    u8,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    Option<Bound<'py, PyAny>>,
);

fn column<'py>(spec: &Spec<'py>, unset: &Bound<'py, PyAny>) -> PyResult<Col<'py>> {
    let (kind, off, vaddr, vsize, daddr, dsize, oaddr, osize, values) = spec;
    match *kind {
        CONST => {
            let Some(v) = values.as_ref() else {
                return Ok(Col::Const(None, -1)); // None: a null
            };
            if let Ok(b) = v.downcast::<PyBytes>() {
                Ok(Col::Const(Some(b.as_bytes().to_vec()), 0))
            } else if v.is_none() {
                Ok(Col::Const(None, -1))
            } else if v.is(unset) {
                Ok(Col::Const(None, -2))
            } else {
                Err(PyValueError::new_err(
                    "CONST value must be bytes, None or unset",
                ))
            }
        }
        LIST => {
            let v = values
                .as_ref()
                .ok_or_else(|| PyValueError::new_err("LIST needs values"))?;
            let list = v.downcast::<PyList>()?;
            Ok(Col::Values(list.iter().collect()))
        }
        I8..=DECIMAL => Ok(Col::Arrow {
            kind: *kind,
            valid: view(*vaddr, *vsize),
            off: *off,
            data: view(*daddr, *dsize),
            offsets: view(*oaddr, *osize),
        }),
        k => Err(PyValueError::new_err(format!("unknown column kind {k}"))),
    }
}

/// Encode `rows` rows of `columns` into per-row value blobs.
///
/// `columns`: per bound value, `(kind, element offset, validity address, validity size, data
/// address, data size, offsets address, offsets size, values)`; `values` is the constant (kind
/// CONST) or the Python-serialized list (kind LIST), else None. `null`: the length written for a
/// null Arrow value (-1 null, -2 unset). `key`: the indexes of the partition key columns.
///
/// Returns `(blobs, routing_keys, None)`, or `(None, None, j)` when column `j` holds a value this
/// module cannot encode exactly (the caller then passes that column as a LIST and calls again).
#[pyfunction]
pub fn encode_rows<'py>(
    py: Python<'py>,
    rows: usize,
    columns: Vec<Spec<'py>>,
    null: i32,
    key: Vec<usize>,
    unset: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    let cols: Vec<Col<'py>> = columns
        .iter()
        .map(|s| column(s, &unset))
        .collect::<PyResult<_>>()?;
    if cols.len() > u16::MAX as usize {
        return Err(PyValueError::new_err("too many columns"));
    }
    let mut blobs: Vec<Bound<'py, PyAny>> = Vec::with_capacity(rows);
    let mut keys: Vec<Bound<'py, PyAny>> = Vec::with_capacity(rows);
    let mut out: Vec<u8> = Vec::with_capacity(256);
    let mut scratch: Vec<u8> = Vec::new();
    let mut starts: Vec<usize> = vec![0; cols.len()];
    let mut keybuf: Vec<u8> = Vec::new();
    for r in 0..rows {
        out.clear();
        out.extend_from_slice(&(cols.len() as u16).to_be_bytes());
        for (j, col) in cols.iter().enumerate() {
            starts[j] = out.len();
            match encode_cell(col, j, r, null, &unset, &mut out, &mut scratch) {
                Ok(()) => {}
                Err(Fail::Column(j)) => {
                    let none = py.None().into_bound(py);
                    return PyTuple::new(py, [none.clone(), none, j.into_pyobject(py)?.into_any()]);
                }
                Err(Fail::Error(e)) => return Err(PyValueError::new_err(e)),
            }
        }
        blobs.push(PyBytes::new(py, &out).into_any());
        // The routing key: the value of a single partition key column, or each one as
        // [short length][bytes][0] (a null, or unset, key part is empty: such a row is refused).
        let value = |j: usize| -> &[u8] {
            let s = starts[j];
            let len = i32::from_be_bytes(out[s..s + 4].try_into().unwrap());
            if len < 0 {
                &[]
            } else {
                &out[s + 4..s + 4 + len as usize]
            }
        };
        if key.len() == 1 {
            keys.push(PyBytes::new(py, value(key[0])).into_any());
        } else {
            keybuf.clear();
            for &j in &key {
                let v = value(j);
                keybuf.extend_from_slice(&(v.len() as u16).to_be_bytes());
                keybuf.extend_from_slice(v);
                keybuf.push(0);
            }
            keys.push(PyBytes::new(py, &keybuf).into_any());
        }
    }
    PyTuple::new(
        py,
        [
            PyList::new(py, blobs)?.into_any(),
            PyList::new(py, keys)?.into_any(),
            py.None().into_bound(py),
        ],
    )
}
