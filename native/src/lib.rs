#![allow(clippy::manual_is_multiple_of, clippy::large_enum_variant)]

//! Parse the rows of a Cassandra RESULT (Rows) page straight into Arrow buffers.
//!
//! The caller (`cassandra_bulk_core.types.native`) reads the metadata part of the message and
//! hands over the rest: `int32 row count`, then for each row and column an `int32` length
//! (negative: null) and the bytes. Each natively covered column comes back as a tree of
//! `(length, null_count, [buffers], [children])` in the layout `pyarrow.Array.from_buffers`
//! takes; every other column's cells are copied, as on the wire, into one body that the driver's
//! own row parser decodes (today's path). Anything unexpected (a length that does not fit the
//! type, invalid UTF-8, a negative element length...) is an error, and the caller then decodes
//! the whole page the driver's way: correctness never depends on this parser.
//!
//! Values are produced exactly as `cassandra_bulk_core.types.decode` + `types.arrow` make them:
//! zero-length cells of fixed-width types are EMPTY (null, and counted per column), varint is its
//! decimal digits, decimal is Python's `str(Decimal(f"{unscaled}e{-scale}"))`, inet is what the
//! C library's `inet_ntop` prints, dates are `uint32 - 2^31` days.

mod encode;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

type Res<T> = Result<T, String>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Leaf {
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    Bool,
    Timestamp,
    Date,
    Time,
    Uuid,
    Text,
    Ascii,
    Blob,
    Varint,
    Decimal,
    Inet,
    Duration,
}

impl Leaf {
    fn from_code(code: u8) -> Res<Leaf> {
        Ok(match code {
            1 => Leaf::I8,
            2 => Leaf::I16,
            3 => Leaf::I32,
            4 => Leaf::I64,
            5 => Leaf::F32,
            6 => Leaf::F64,
            7 => Leaf::Bool,
            8 => Leaf::Timestamp,
            9 => Leaf::Date,
            10 => Leaf::Time,
            11 => Leaf::Uuid,
            12 => Leaf::Text,
            13 => Leaf::Ascii,
            14 => Leaf::Blob,
            15 => Leaf::Varint,
            16 => Leaf::Decimal,
            17 => Leaf::Inet,
            18 => Leaf::Duration,
            _ => return Err(format!("unknown leaf code {code}")),
        })
    }

    /// Bytes per value on the wire and in the Arrow values buffer (fixed-width numerics).
    fn width(self) -> Option<usize> {
        match self {
            Leaf::I8 => Some(1),
            Leaf::I16 => Some(2),
            Leaf::I32 | Leaf::F32 | Leaf::Date => Some(4),
            Leaf::I64 | Leaf::F64 | Leaf::Timestamp | Leaf::Time => Some(8),
            Leaf::Uuid => Some(16),
            _ => None,
        }
    }

    fn variable(self) -> bool {
        matches!(
            self,
            Leaf::Text | Leaf::Ascii | Leaf::Blob | Leaf::Varint | Leaf::Decimal | Leaf::Inet
        )
    }

    /// Strings and blobs have an empty form; for every other type a zero-length cell is EMPTY.
    fn has_empty_form(self) -> bool {
        matches!(self, Leaf::Text | Leaf::Ascii | Leaf::Blob)
    }
}

/// An Arrow bitmap being appended to (LSB first).
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    len: usize,
    unset: usize,
}

impl Bits {
    #[inline]
    fn push(&mut self, v: bool) {
        if self.len % 8 == 0 {
            self.bytes.push(0);
        }
        if v {
            self.bytes[self.len / 8] |= 1 << (self.len % 8);
        } else {
            self.unset += 1;
        }
        self.len += 1;
    }
}

/// A parsed Arrow array: (length, null count, buffers, children), built into Python objects
/// only after the GIL is taken back.
struct Node {
    len: usize,
    nulls: usize,
    buffers: Vec<Option<Vec<u8>>>,
    children: Vec<Node>,
}

impl Node {
    fn into_py(self, py: Python<'_>) -> PyResult<PyObject> {
        let buffers = PyList::empty(py);
        for b in self.buffers {
            match b {
                Some(v) => buffers.append(PyBytes::new(py, &v))?,
                None => buffers.append(py.None())?,
            }
        }
        let children = PyList::empty(py);
        for c in self.children {
            children.append(c.into_py(py)?)?;
        }
        let t = PyTuple::new(
            py,
            [
                self.len.into_pyobject(py)?.into_any(),
                self.nulls.into_pyobject(py)?.into_any(),
                buffers.into_any(),
                children.into_any(),
            ],
        )?;
        Ok(t.into_any().unbind())
    }
}

fn validity(bits: Bits) -> Option<Vec<u8>> {
    if bits.unset == 0 {
        None
    } else {
        Some(bits.bytes)
    }
}

fn be_i32(b: &[u8], at: usize) -> Res<i32> {
    b.get(at..at + 4)
        .map(|s| i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| "truncated length".to_string())
}

/// One column (or collection element / key / value) of a scalar type.
struct LeafCol {
    kind: Leaf,
    valid: Bits,
    values: Vec<u8>,
    offsets: Vec<i32>,
    bools: Bits,
    months: Vec<u8>,
    days: Vec<u8>,
    nanos: Vec<u8>,
    scratch: String,
}

impl LeafCol {
    fn new(kind: Leaf, rows: usize) -> LeafCol {
        let mut offsets = Vec::new();
        if kind.variable() {
            offsets.reserve(rows + 1);
            offsets.push(0);
        }
        let values = match kind.width() {
            Some(w) => Vec::with_capacity(rows * w),
            None => Vec::new(),
        };
        LeafCol {
            kind,
            valid: Bits::default(),
            values,
            offsets,
            bools: Bits::default(),
            months: Vec::new(),
            days: Vec::new(),
            nanos: Vec::new(),
            scratch: String::new(),
        }
    }

    fn push_null(&mut self) {
        self.valid.push(false);
        if let Some(w) = self.kind.width() {
            self.values.resize(self.values.len() + w, 0);
        } else if self.kind.variable() {
            let end = *self.offsets.last().unwrap();
            self.offsets.push(end);
        } else if self.kind == Leaf::Bool {
            self.bools.push(false);
        } else {
            self.months.extend_from_slice(&0i32.to_le_bytes());
            self.days.extend_from_slice(&0i32.to_le_bytes());
            self.nanos.extend_from_slice(&0i64.to_le_bytes());
        }
    }

    /// Append one cell; returns true when it was EMPTY (zero-length value of a fixed-width type).
    #[inline]
    fn push(&mut self, cell: Option<&[u8]>) -> Res<bool> {
        match cell {
            None => {
                self.push_null();
                Ok(false)
            }
            Some(b) if b.is_empty() && !self.kind.has_empty_form() => {
                self.push_null();
                Ok(true)
            }
            Some(b) => {
                self.push_value(b)?;
                self.valid.push(true);
                Ok(false)
            }
        }
    }

    fn push_var(&mut self, bytes: &[u8]) -> Res<()> {
        self.values.extend_from_slice(bytes);
        let end =
            i32::try_from(self.values.len()).map_err(|_| "column data over 2 GiB".to_string())?;
        self.offsets.push(end);
        Ok(())
    }

    fn push_value(&mut self, b: &[u8]) -> Res<()> {
        if let Some(w) = self.kind.width() {
            if b.len() != w {
                return Err(format!("{:?} value of {} bytes", self.kind, b.len()));
            }
            match self.kind {
                Leaf::Uuid | Leaf::I8 => self.values.extend_from_slice(b),
                Leaf::Date => {
                    let days =
                        u32::from_be_bytes([b[0], b[1], b[2], b[3]]).wrapping_sub(1 << 31) as i32;
                    self.values.extend_from_slice(&days.to_le_bytes());
                }
                _ => self.values.extend(b.iter().rev()),
            }
            return Ok(());
        }
        match self.kind {
            Leaf::Bool => {
                if b.len() != 1 {
                    return Err(format!("boolean value of {} bytes", b.len()));
                }
                self.bools.push(b[0] != 0);
            }
            Leaf::Text => {
                std::str::from_utf8(b).map_err(|e| format!("invalid UTF-8: {e}"))?;
                self.push_var(b)?;
            }
            Leaf::Ascii => {
                if !b.is_ascii() {
                    return Err("non-ASCII byte in an ascii value".to_string());
                }
                self.push_var(b)?;
            }
            Leaf::Blob => self.push_var(b)?,
            Leaf::Varint => {
                let mut s = std::mem::take(&mut self.scratch);
                s.clear();
                let negative = varint_digits(b, &mut s);
                if negative {
                    s.insert(0, '-');
                }
                let r = self.push_var(s.as_bytes());
                self.scratch = s;
                r?;
            }
            Leaf::Decimal => {
                if b.len() < 4 {
                    return Err(format!("decimal value of {} bytes", b.len()));
                }
                let scale = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let mut digits = std::mem::take(&mut self.scratch);
                digits.clear();
                let negative = varint_digits(&b[4..], &mut digits);
                let text = decimal_str(negative, &digits, -(scale as i64));
                self.scratch = digits;
                self.push_var(text.as_bytes())?;
            }
            Leaf::Inet => {
                let text = match b.len() {
                    4 => format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]),
                    16 => inet6(b),
                    n => return Err(format!("inet value of {n} bytes")),
                };
                self.push_var(text.as_bytes())?;
            }
            Leaf::Duration => {
                let mut at = 0;
                let months = vint(b, &mut at)?;
                let days = vint(b, &mut at)?;
                let nanos = vint(b, &mut at)?;
                if at != b.len() {
                    return Err("duration with more than three values".to_string());
                }
                let months = i32::try_from(months)
                    .map_err(|_| "duration months overflow int32".to_string())?;
                let days =
                    i32::try_from(days).map_err(|_| "duration days overflow int32".to_string())?;
                self.months.extend_from_slice(&months.to_le_bytes());
                self.days.extend_from_slice(&days.to_le_bytes());
                self.nanos.extend_from_slice(&nanos.to_le_bytes());
            }
            _ => unreachable!(),
        }
        Ok(())
    }

    fn finish(self) -> Node {
        let len = self.valid.len;
        let nulls = self.valid.unset;
        let valid = validity(self.valid);
        match self.kind {
            Leaf::Bool => Node {
                len,
                nulls,
                buffers: vec![valid, Some(self.bools.bytes)],
                children: vec![],
            },
            Leaf::Duration => {
                let child = |values: Vec<u8>| Node {
                    len,
                    nulls: 0,
                    buffers: vec![None, Some(values)],
                    children: vec![],
                };
                Node {
                    len,
                    nulls,
                    buffers: vec![valid],
                    children: vec![child(self.months), child(self.days), child(self.nanos)],
                }
            }
            k if k.variable() => {
                let offsets: Vec<u8> = self.offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
                Node {
                    len,
                    nulls,
                    buffers: vec![valid, Some(offsets), Some(self.values)],
                    children: vec![],
                }
            }
            _ => Node {
                len,
                nulls,
                buffers: vec![valid, Some(self.values)],
                children: vec![],
            },
        }
    }
}

/// A signed vint as the driver's `vints_unpack` reads it (leading ones = extra bytes, zigzag).
fn vint(b: &[u8], at: &mut usize) -> Res<i64> {
    let first = *b.get(*at).ok_or_else(|| "truncated duration".to_string())?;
    let extra = first.leading_ones() as usize;
    let mut val: u64 = (first as u64) & (0xffu64 >> extra);
    for i in 1..=extra {
        let byte = *b
            .get(*at + i)
            .ok_or_else(|| "truncated duration".to_string())?;
        val = (val << 8) | byte as u64;
    }
    *at += extra + 1;
    Ok(((val >> 1) as i64) ^ -((val & 1) as i64))
}

/// Decimal digits of a big-endian two's complement integer (empty: 0) into `out`; returns the sign.
fn varint_digits(b: &[u8], out: &mut String) -> bool {
    use std::fmt::Write;
    if b.is_empty() {
        out.push('0');
        return false;
    }
    let negative = b[0] & 0x80 != 0;
    if b.len() <= 16 {
        let mut v: i128 = if negative { -1 } else { 0 };
        for &byte in b {
            v = (v << 8) | byte as i128;
        }
        let _ = write!(out, "{}", v.unsigned_abs());
        return negative;
    }
    // Magnitude (two's complement negation when negative), as big-endian u32 limbs.
    let mut mag: Vec<u8> = b.to_vec();
    if negative {
        for x in mag.iter_mut() {
            *x = !*x;
        }
        for x in mag.iter_mut().rev() {
            let (v, carry) = x.overflowing_add(1);
            *x = v;
            if !carry {
                break;
            }
        }
    }
    let pad = (4 - mag.len() % 4) % 4;
    let mut limbs: Vec<u32> = Vec::with_capacity(mag.len() / 4 + 1);
    let mut padded = vec![0u8; pad];
    padded.extend_from_slice(&mag);
    for c in padded.chunks(4) {
        limbs.push(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let mut chunks: Vec<u32> = Vec::new(); // base 1e9, least significant first
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for l in limbs.iter_mut() {
            let cur = (rem << 32) | *l as u64;
            *l = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.len() > 1 && limbs[0] == 0 {
            limbs.remove(0);
        }
    }
    if chunks.is_empty() {
        out.push('0');
        return false; // -0 cannot happen in two's complement, but keep Python's "0"
    }
    let _ = write!(out, "{}", chunks.last().unwrap());
    for c in chunks.iter().rev().skip(1) {
        let _ = write!(out, "{c:09}");
    }
    negative
}

/// Python's `str(Decimal)` (to-scientific-string) for a coefficient's digits and an exponent.
fn decimal_str(negative: bool, digits: &str, exp: i64) -> String {
    let n = digits.len() as i64;
    let leftdigits = exp + n;
    let dotplace = if exp <= 0 && leftdigits > -6 {
        leftdigits
    } else {
        1
    };
    let mut s = String::with_capacity(digits.len() + 16);
    if negative {
        s.push('-');
    }
    if dotplace <= 0 {
        s.push_str("0.");
        for _ in 0..(-dotplace) {
            s.push('0');
        }
        s.push_str(digits);
    } else if dotplace >= n {
        s.push_str(digits);
        for _ in 0..(dotplace - n) {
            s.push('0');
        }
    } else {
        s.push_str(&digits[..dotplace as usize]);
        s.push('.');
        s.push_str(&digits[dotplace as usize..]);
    }
    if leftdigits != dotplace {
        s.push_str(&format!("E{:+}", leftdigits - dotplace));
    }
    s
}

/// IPv6 text exactly as glibc's `inet_ntop(AF_INET6, ...)` writes it (what the driver returns).
fn inet6(b: &[u8]) -> String {
    let words: Vec<u16> = (0..8)
        .map(|i| u16::from_be_bytes([b[2 * i], b[2 * i + 1]]))
        .collect();
    let (mut best_base, mut best_len): (i32, i32) = (-1, 0);
    let (mut cur_base, mut cur_len): (i32, i32) = (-1, 0);
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            if cur_base == -1 {
                cur_base = i as i32;
                cur_len = 1;
            } else {
                cur_len += 1;
            }
        } else if cur_base != -1 {
            if best_base == -1 || cur_len > best_len {
                best_base = cur_base;
                best_len = cur_len;
            }
            cur_base = -1;
        }
    }
    if cur_base != -1 && (best_base == -1 || cur_len > best_len) {
        best_base = cur_base;
        best_len = cur_len;
    }
    if best_base != -1 && best_len < 2 {
        best_base = -1;
    }
    let mut s = String::with_capacity(40);
    for i in 0..8i32 {
        if best_base != -1 && i >= best_base && i < best_base + best_len {
            if i == best_base {
                s.push(':');
            }
            continue;
        }
        if i != 0 {
            s.push(':');
        }
        if i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)) {
            s.push_str(&format!("{}.{}.{}.{}", b[12], b[13], b[14], b[15]));
            return s;
        }
        s.push_str(&format!("{:x}", words[i as usize]));
    }
    if best_base != -1 && best_base + best_len == 8 {
        s.push(':');
    }
    s
}

/// list/set (one element column) and map (key and value columns): one offsets buffer.
struct CollCol {
    valid: Bits,
    offsets: Vec<i32>,
    count: i32,
    first: LeafCol,
    second: Option<LeafCol>,
    is_set: bool,
}

impl CollCol {
    fn push(&mut self, cell: Option<&[u8]>) -> Res<usize> {
        let b = match cell {
            // A zero-length collection cell is None for the driver (collections have no EMPTY).
            Some(b) if !b.is_empty() => b,
            _ => {
                self.valid.push(false);
                self.offsets.push(self.count);
                return Ok(0);
            }
        };
        let n = be_i32(b, 0)?;
        if n < 0 {
            return Err("negative collection size".to_string());
        }
        let mut at = 4usize;
        let mut empties = 0usize;
        for _ in 0..n {
            let e = element(b, &mut at)?;
            match self.second.as_mut() {
                None => {
                    if self.first.push(Some(e))? {
                        if self.is_set {
                            return Err("EMPTY element in a set".to_string());
                        }
                        empties += 1;
                    }
                }
                Some(values) => {
                    if self.first.push(Some(e))? {
                        return Err("EMPTY map key".to_string());
                    }
                    let v = element(b, &mut at)?;
                    if values.push(Some(v))? {
                        empties += 1;
                    }
                }
            }
        }
        self.count = self
            .count
            .checked_add(n)
            .ok_or_else(|| "too many elements".to_string())?;
        self.valid.push(true);
        self.offsets.push(self.count);
        Ok(empties)
    }

    fn finish(self) -> Node {
        let len = self.valid.len;
        let nulls = self.valid.unset;
        let offsets: Vec<u8> = self.offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
        let valid = validity(self.valid);
        let first = self.first.finish();
        let children = match self.second {
            None => vec![first],
            Some(values) => {
                let entries = first.len;
                vec![Node {
                    len: entries,
                    nulls: 0,
                    buffers: vec![None],
                    children: vec![first, values.finish()],
                }]
            }
        };
        Node {
            len,
            nulls,
            buffers: vec![valid, Some(offsets)],
            children,
        }
    }
}

/// The next `int32 length + bytes` element of a collection; a negative length is refused (the
/// driver's own parser mis-reads it, so the page goes its way and fails there as it does today).
#[inline]
fn element<'a>(b: &'a [u8], at: &mut usize) -> Res<&'a [u8]> {
    let len = be_i32(b, *at)?;
    if len < 0 {
        return Err("null collection element".to_string());
    }
    let start = *at + 4;
    let end = start + len as usize;
    let e = b
        .get(start..end)
        .ok_or_else(|| "truncated collection".to_string())?;
    *at = end;
    Ok(e)
}

/// vector<float|int|bigint|double, n>: dimension x element bytes, no lengths.
struct VecCol {
    valid: Bits,
    width: usize,
    dim: usize,
    values: Vec<u8>,
}

impl VecCol {
    fn push(&mut self, cell: Option<&[u8]>) -> Res<()> {
        match cell {
            Some(b) if !b.is_empty() => {
                if b.len() != self.width * self.dim {
                    return Err(format!("vector value of {} bytes", b.len()));
                }
                for e in b.chunks_exact(self.width) {
                    self.values.extend(e.iter().rev());
                }
                self.valid.push(true);
            }
            _ => {
                self.values
                    .resize(self.values.len() + self.width * self.dim, 0);
                self.valid.push(false);
            }
        }
        Ok(())
    }

    fn finish(self) -> Node {
        let len = self.valid.len;
        let nulls = self.valid.unset;
        let child = Node {
            len: len * self.dim,
            nulls: 0,
            buffers: vec![None, Some(self.values)],
            children: vec![],
        };
        Node {
            len,
            nulls,
            buffers: vec![validity(self.valid)],
            children: vec![child],
        }
    }
}

enum Col {
    Leaf(LeafCol),
    Coll(CollCol),
    Vector(VecCol),
    /// Copied as is into the fallback body, for the driver to decode.
    Raw,
}

struct Parsed {
    rows: usize,
    cols: Vec<Option<(Node, Vec<u32>)>>,
    fallback: Option<Vec<u8>>,
}

fn make_col(spec: (u8, u8, u8, i32), rows: usize) -> Res<Col> {
    let (shape, a, b, dim) = spec;
    Ok(match shape {
        0 => Col::Leaf(LeafCol::new(Leaf::from_code(a)?, rows)),
        1..=3 => {
            let mut offsets = Vec::with_capacity(rows + 1);
            offsets.push(0);
            Col::Coll(CollCol {
                valid: Bits::default(),
                offsets,
                count: 0,
                first: LeafCol::new(Leaf::from_code(a)?, 0),
                second: if shape == 3 {
                    Some(LeafCol::new(Leaf::from_code(b)?, 0))
                } else {
                    None
                },
                is_set: shape == 2,
            })
        }
        4 => {
            let kind = Leaf::from_code(a)?;
            let width = match kind {
                Leaf::F32 | Leaf::I32 => 4,
                Leaf::F64 | Leaf::I64 => 8,
                _ => return Err(format!("vector of {kind:?}")),
            };
            let dim = usize::try_from(dim).map_err(|_| "negative vector dimension".to_string())?;
            Col::Vector(VecCol {
                valid: Bits::default(),
                width,
                dim,
                values: Vec::with_capacity(rows * width * dim),
            })
        }
        5 => Col::Raw,
        _ => return Err(format!("unknown column shape {shape}")),
    })
}

fn parse(body: &[u8], specs: &[(u8, u8, u8, i32)]) -> Res<Parsed> {
    let rows = be_i32(body, 0)?;
    if rows < 0 {
        return Err("negative row count".to_string());
    }
    let rows = rows as usize;
    // Not trusting the count for the reservations: a row is at least 4 bytes per column.
    let reserve = rows.min(body.len() / 4 / specs.len().max(1));
    let mut cols: Vec<Col> = specs
        .iter()
        .map(|s| make_col(*s, reserve))
        .collect::<Res<_>>()?;
    let mut empties: Vec<Vec<u32>> = vec![Vec::new(); specs.len()];
    let raw_cols = cols.iter().filter(|c| matches!(c, Col::Raw)).count();
    let mut fallback: Option<Vec<u8>> = None;
    if raw_cols > 0 {
        // A RESULT Rows body with no metadata (flag 0x0004) and the fallback columns only.
        let mut f = Vec::new();
        f.extend_from_slice(&4i32.to_be_bytes());
        f.extend_from_slice(&(raw_cols as i32).to_be_bytes());
        f.extend_from_slice(&(rows as i32).to_be_bytes());
        fallback = Some(f);
    }
    let mut at = 4usize;
    for row in 0..rows {
        for (i, col) in cols.iter_mut().enumerate() {
            let len = be_i32(body, at)?;
            let start = at + 4;
            let cell = if len < 0 {
                at = start;
                None
            } else {
                let end = start + len as usize;
                let c = body
                    .get(start..end)
                    .ok_or_else(|| "truncated row".to_string())?;
                at = end;
                Some(c)
            };
            match col {
                Col::Leaf(c) => {
                    if c.push(cell)? {
                        empties[i].push(row as u32);
                    }
                }
                Col::Coll(c) => {
                    for _ in 0..c.push(cell)? {
                        empties[i].push(row as u32);
                    }
                }
                Col::Vector(c) => c.push(cell)?,
                Col::Raw => {
                    let f = fallback.as_mut().unwrap();
                    f.extend_from_slice(&body[at - cell.map_or(0, |c| c.len()) - 4..at]);
                }
            }
        }
    }
    let cols = cols
        .into_iter()
        .zip(empties)
        .map(|(c, e)| match c {
            Col::Leaf(c) => Some((c.finish(), e)),
            Col::Coll(c) => Some((c.finish(), e)),
            Col::Vector(c) => Some((c.finish(), e)),
            Col::Raw => None,
        })
        .collect();
    Ok(Parsed {
        rows,
        cols,
        fallback,
    })
}

/// Parse a page's rows. `specs`: per column `(shape, code, code, dimension)` with shape 0 scalar,
/// 1 list, 2 set, 3 map, 4 vector, 5 fallback (see `cassandra_bulk_core.types.native`).
///
/// Returns `(rows, columns, fallback)`: per column `None` (fallback) or
/// `((length, null_count, [buffers], [children]), empty_rows)` where `empty_rows` is `None` or
/// little-endian uint32 row indices, one per EMPTY value; `fallback` is `None` or a RESULT Rows
/// body (no metadata) holding the fallback columns' cells.
#[pyfunction]
fn parse_rows(py: Python<'_>, body: &[u8], specs: Vec<(u8, u8, u8, i32)>) -> PyResult<PyObject> {
    let parsed = py
        .allow_threads(|| parse(body, &specs))
        .map_err(PyValueError::new_err)?;
    let cols = PyList::empty(py);
    for c in parsed.cols {
        match c {
            None => cols.append(py.None())?,
            Some((node, empties)) => {
                let e: PyObject = if empties.is_empty() {
                    py.None()
                } else {
                    let bytes: Vec<u8> = empties.iter().flat_map(|r| r.to_le_bytes()).collect();
                    PyBytes::new(py, &bytes).into_any().unbind()
                };
                let t = PyTuple::new(py, [node.into_py(py)?, e])?;
                cols.append(t)?;
            }
        }
    }
    let fallback: PyObject = match parsed.fallback {
        Some(f) => PyBytes::new(py, &f).into_any().unbind(),
        None => py.None(),
    };
    let out = PyTuple::new(
        py,
        [
            parsed.rows.into_pyobject(py)?.into_any().unbind(),
            cols.into_any().unbind(),
            fallback,
        ],
    )?;
    Ok(out.into_any().unbind())
}

#[pymodule]
fn cassandra_bulk_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_rows, m)?)?;
    m.add_function(wrap_pyfunction!(encode::encode_rows, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
