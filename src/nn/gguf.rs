//! A reader for GGUF v3 files (llama.cpp's model format) that owns the file's bytes and keeps the weights
//! quantised: tensors are borrowed views into those bytes, rows are dequantised on demand and dot products run
//! straight on the quantised blocks.
//!
//! Layout (all little-endian): `GGUF` magic, u32 version (3), u64 tensor count, u64 metadata count, the metadata
//! (key string, u32 value type, value), the tensor infos (name string, u32 n_dims, u64 `ne[n_dims]` with `ne0`
//! the contiguous dimension, u32 ggml type, u64 offset into the data section), then the data section at the next
//! multiple of `general.alignment` (default 32). A string is a u64 byte length and UTF-8 bytes; an array is a u32
//! element type, a u64 count and the elements.
//!
//! Every offset and count is checked against the file before it is used: a truncated or corrupt file is a `MODEL`
//! error that names the key, tensor or field, never a panic, and counts are bounded by the bytes left before
//! anything is allocated. Supported tensor types: F32, F16, Q4_0, Q4_1 and Q8_0 (blocks of 32; see
//! [`GgmlType`]). Dequantisation is bit-exact with gguf-python (`d * q + m` in f32 after f16 → f32, no FMA).

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};

/// An array handle used with a file it does not come from: its elements need not decode.
fn not_this_file(e: &str) -> Error {
    model_error(format!("a metadata array read from another file: {e}"))
}

fn model_error(what: impl Into<String>) -> Error {
    Error::Model(format!("GGUF: {}", what.into()))
}

/// The only GGUF version read.
pub const VERSION: u32 = 3;
/// The alignment of the data section and of every tensor when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: usize = 32;
/// Elements per block of the quantised types (ggml's `QK4_0`, `QK4_1`, `QK8_0`).
pub const QK: usize = 32;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// Nesting limit of metadata arrays (arrays of arrays): deeper is surely corrupt and would risk the stack.
const MAX_DEPTH: usize = 8;

/// A metadata value. Arrays hold elements of one type; arrays of arrays are allowed.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Array),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// An array value, left in the file's bytes and decoded on demand ([`Gguf::items`], [`Gguf::strings`],
/// [`Gguf::i32s`]): the tokenizer's arrays hold ~150k values, ~100k of them strings, which decoded into owned
/// [`Value`]s would add ~5% of the file to the resident size of a loaded model. [`Gguf::parse`] has checked every
/// element, so decoding cannot fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Array {
    /// The elements' type id.
    kind: u32,
    len: usize,
    /// Offset of the first element in the file.
    at: usize,
    /// `ARRAY[…]`, named at parse time (an array of arrays by its first element, `ARRAY[ARRAY]` when it is empty).
    name: String,
}

impl Array {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// GGUF's names of the value types, by id.
const VALUE_TYPES: [&str; 13] = [
    "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY", "UINT64", "INT64",
    "FLOAT64",
];

/// The fewest bytes one value of a type takes in the file, by id (an array: its type and count).
const VALUE_MIN_BYTES: [usize; 13] = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

impl Value {
    /// GGUF's name of the value's type, e.g. `UINT32`, `STRING`, `ARRAY[STRING]`, `ARRAY[ARRAY[INT32]]`.
    pub fn type_name(&self) -> String {
        match self {
            Value::Array(array) => array.name.clone(),
            other => VALUE_TYPES[other.type_id() as usize].to_owned(),
        }
    }

    fn type_id(&self) -> u32 {
        match self {
            Value::U8(_) => 0,
            Value::I8(_) => 1,
            Value::U16(_) => 2,
            Value::I16(_) => 3,
            Value::U32(_) => 4,
            Value::I32(_) => 5,
            Value::F32(_) => 6,
            Value::Bool(_) => 7,
            Value::String(_) => 8,
            Value::Array(_) => 9,
            Value::U64(_) => 10,
            Value::I64(_) => 11,
            Value::F64(_) => 12,
        }
    }

    /// The value of any integer type, widened.
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            Value::U8(v) => v.into(),
            Value::I8(v) => v.into(),
            Value::U16(v) => v.into(),
            Value::I16(v) => v.into(),
            Value::U32(v) => v.into(),
            Value::I32(v) => v.into(),
            Value::U64(v) => v.into(),
            Value::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A short rendering for error messages (strings and arrays abbreviated).
    fn describe(&self) -> String {
        match self {
            Value::String(s) if s.len() > 40 => format!("STRING of {} bytes", s.len()),
            Value::String(s) => format!("STRING {s:?}"),
            Value::Array(array) => format!("{} of {} elements", array.name, array.len),
            Value::Bool(v) => format!("BOOL {v}"),
            Value::F32(v) => format!("FLOAT32 {v}"),
            Value::F64(v) => format!("FLOAT64 {v}"),
            other => format!("{} {}", other.type_name(), other.as_i128().unwrap_or_default()),
        }
    }
}

/// The tensor types this reader decodes. ggml's other types are named in errors (see [`GgmlType::name_of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    /// IEEE f32, 4 bytes per element.
    F32,
    /// IEEE half, 2 bytes per element.
    F16,
    /// 18-byte blocks of 32: f16 `d`, 16 bytes of nibbles; `x = (q - 8) · d`.
    Q4_0,
    /// 20-byte blocks of 32: f16 `d`, f16 `m`, 16 bytes of nibbles; `x = q · d + m`.
    Q4_1,
    /// 34-byte blocks of 32: f16 `d`, 32 i8; `x = q · d`.
    Q8_0,
}

/// ggml's type names by id (`ggml_type` in ggml.h); ids 4, 5, 31–33 and 36–38 were removed from ggml.
#[rustfmt::skip]
const GGML_TYPE_NAMES: [&str; 42] = [
    "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
    "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32",
    "I64", "F64", "IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8",
    "IQ4_NL_8_8", "MXFP4", "NVFP4", "Q1_0",
];

impl GgmlType {
    /// All supported types.
    pub const ALL: [GgmlType; 5] = [GgmlType::F32, GgmlType::F16, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0];

    /// The type of a ggml type id.
    ///
    /// # Errors
    /// `MODEL` naming the ggml type when it is not supported, e.g. "ggml type Q5_K (13) is not supported;
    /// supported: F32, F16, Q4_0, Q4_1, Q8_0".
    pub fn from_id(id: u32) -> Result<GgmlType> {
        GgmlType::ALL.into_iter().find(|t| t.id() == id).ok_or_else(|| {
            model_error(format!("{} is not supported; supported: {}", Self::describe_id(id), Self::supported()))
        })
    }

    /// ggml's id of the type.
    pub fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4_0 => 2,
            GgmlType::Q4_1 => 3,
            GgmlType::Q8_0 => 8,
        }
    }

    /// ggml's name of the type, e.g. `Q4_1`.
    pub fn name(self) -> &'static str {
        GGML_TYPE_NAMES[self.id() as usize]
    }

    /// ggml's name of any type id, supported or not (`None` for ids ggml never had).
    pub fn name_of(id: u32) -> Option<&'static str> {
        GGML_TYPE_NAMES.get(id as usize).copied()
    }

    /// Elements per block (1 for F32 and F16).
    pub fn block_size(self) -> usize {
        match self {
            GgmlType::F32 | GgmlType::F16 => 1,
            GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0 => QK,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            GgmlType::F32 => 4,
            GgmlType::F16 => 2,
            GgmlType::Q4_0 => 18,
            GgmlType::Q4_1 => 20,
            GgmlType::Q8_0 => 34,
        }
    }

    /// "ggml type Q5_K (13)" or "unknown ggml type 99".
    fn describe_id(id: u32) -> String {
        match Self::name_of(id) {
            Some(name) => format!("ggml type {name} ({id})"),
            None => format!("unknown ggml type {id}"),
        }
    }

    fn supported() -> String {
        GgmlType::ALL.map(GgmlType::name).join(", ")
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Converts IEEE half bits to f32, exactly (subnormals, infinities and NaN payloads included). Branch-free: the
/// exponent and mantissa shifted into f32 position, times 2^112, rebias exactly (half subnormals become f32
/// subnormals first, which the product normalises without rounding).
#[inline]
pub fn f16_to_f32(h: u16) -> f32 {
    let h = u32::from(h);
    let magnitude = h & 0x7fff;
    let finite = (f32::from_bits(magnitude << 13) * f32::from_bits(0x7780_0000)).to_bits();
    let bits = if magnitude >= 0x7c00 { 0x7f80_0000 | ((magnitude & 0x3ff) << 13) } else { finite };
    f32::from_bits(bits | ((h & 0x8000) << 16))
}

/// Where one tensor lies in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// GGUF order: `ne0` (the contiguous dimension, a row's length) first.
    pub shape: Vec<usize>,
    pub kind: GgmlType,
    /// Absolute byte offset in the file (the data section's start plus the offset the file stores).
    pub offset: usize,
    /// Bytes of data.
    pub size: usize,
}

/// A parsed GGUF file. It owns the file's bytes; tensors are views into them.
pub struct Gguf {
    bytes: Vec<u8>,
    version: u32,
    alignment: usize,
    data_offset: usize,
    metadata: Vec<(String, Value)>,
    keys: FxHashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    names: FxHashMap<String, usize>,
}

impl std::fmt::Debug for Gguf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gguf")
            .field("bytes", &self.bytes.len())
            .field("version", &self.version)
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish_non_exhaustive()
    }
}

/// Reads little-endian fields; every read is bounds-checked and fails with a message saying where the file ended.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.left() {
            return Err(format!(
                "the file is truncated: {n} bytes needed at offset {}, but it ends at {}",
                self.pos,
                self.bytes.len()
            ));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A u64 count or length that must fit in what is left of the file, `min_bytes` bytes per item.
    fn count(&mut self, min_bytes: usize, what: &str) -> Result<usize, String> {
        let at = self.pos;
        let n = self.u64()?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min_bytes.max(1)) <= self.left() => Ok(n),
            _ => Err(format!(
                "{what} {n} at offset {at} is impossible: only {} bytes follow (truncated or corrupt file?)",
                self.left()
            )),
        }
    }

    fn str(&mut self) -> Result<&'a str, String> {
        let len = self.count(1, "string length")?;
        let at = self.pos;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|e| format!("the string at offset {at} is not UTF-8 ({e})"))
    }

    fn string(&mut self) -> Result<String, String> {
        self.str().map(str::to_owned)
    }
}

/// Reads one value of type `kind`. An array's elements are checked here, and left in the file (see [`Array`]); so
/// memory stays bounded by the file's size whatever the counts say.
fn read_value(c: &mut Cursor<'_>, kind: u32, depth: usize) -> Result<Value, String> {
    Ok(match kind {
        0 => Value::U8(c.u8()?),
        1 => Value::I8(i8::from_le_bytes(c.array()?)),
        2 => Value::U16(c.u16()?),
        3 => Value::I16(i16::from_le_bytes(c.array()?)),
        4 => Value::U32(c.u32()?),
        5 => Value::I32(i32::from_le_bytes(c.array()?)),
        6 => Value::F32(f32::from_le_bytes(c.array()?)),
        7 => match c.u8()? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(format!("BOOL byte {b} at offset {} is neither 0 nor 1", c.pos - 1)),
        },
        8 => Value::String(c.string()?),
        9 => Value::Array(read_array(c, depth)?),
        10 => Value::U64(c.u64()?),
        11 => Value::I64(i64::from_le_bytes(c.array()?)),
        12 => Value::F64(f64::from_le_bytes(c.array()?)),
        other => return Err(format!("unknown value type {other} at offset {}", c.pos - 4)),
    })
}

/// Checks an array's elements (nested arrays too), leaving them in the file.
fn read_array(c: &mut Cursor<'_>, depth: usize) -> Result<Array, String> {
    if depth >= MAX_DEPTH {
        return Err(format!("arrays nested deeper than {MAX_DEPTH} levels at offset {}", c.pos));
    }
    let at = c.pos;
    let kind = c.u32()?;
    let min = *VALUE_MIN_BYTES
        .get(kind as usize)
        .ok_or_else(|| format!("array at offset {at} has unknown element type {kind}"))?;
    let len = c.count(min, "array length")?;
    let start = c.pos;
    let mut name = format!("ARRAY[{}]", VALUE_TYPES[kind as usize]);
    for i in 0..len {
        match kind {
            8 => drop(c.str()?),
            9 => {
                let inner = read_array(c, depth + 1)?;
                if i == 0 {
                    name = format!("ARRAY[{}]", inner.name);
                }
            }
            _ => drop(read_value(c, kind, depth + 1)?),
        }
    }
    Ok(Array { kind, len, at: start, name })
}

impl Gguf {
    /// Parses a GGUF v3 file, keeping its bytes.
    ///
    /// # Errors
    /// `MODEL`, naming what is wrong: not GGUF (magic), another version, a truncated file, a count that cannot fit
    /// in the file, an unknown value type, a key or tensor given twice, an unsupported ggml type (named), a tensor
    /// shape that is not whole blocks, or tensor data outside the file.
    pub fn parse(bytes: Vec<u8>) -> Result<Gguf> {
        let mut c = Cursor { bytes: &bytes, pos: 0 };
        let magic: [u8; 4] = c.array().map_err(|_| {
            model_error(format!(
                "the file is {} bytes, too short for a GGUF header (truncated, or not a GGUF file)",
                bytes.len()
            ))
        })?;
        if &magic != b"GGUF" {
            return Err(model_error(format!(
                "not a GGUF file: it starts with b\"{}\", not b\"GGUF\"",
                magic.escape_ascii()
            )));
        }
        let version = c.u32().map_err(|e| model_error(format!("reading the version: {e}")))?;
        if version != VERSION {
            let swapped = version.swap_bytes();
            let why = if (1..=VERSION).contains(&swapped) {
                format!("it looks like a big-endian GGUF v{swapped}, and only little-endian files are read")
            } else {
                format!("only version {VERSION} is read")
            };
            return Err(model_error(format!("GGUF version {version} is not supported: {why}")));
        }
        // A tensor info takes at least 24 bytes (empty name, no dimensions), a metadata entry at least 13.
        let tensor_count = c.count(24, "tensor count").map_err(|e| model_error(format!("header: {e}")))?;
        let kv_count = c.count(13, "metadata count").map_err(|e| model_error(format!("header: {e}")))?;

        let mut metadata = Vec::with_capacity(kv_count.min(1 << 10));
        let mut keys = FxHashMap::default();
        for i in 0..kv_count {
            let key = c.string().map_err(|e| model_error(format!("metadata entry #{i}: key: {e}")))?;
            let value = c
                .u32()
                .and_then(|kind| read_value(&mut c, kind, 0))
                .map_err(|e| model_error(format!("metadata key `{key}`: {e}")))?;
            if keys.insert(key.clone(), metadata.len()).is_some() {
                return Err(model_error(format!("metadata key `{key}` is given twice")));
            }
            metadata.push((key, value));
        }

        let mut tensors = Vec::with_capacity(tensor_count.min(1 << 12));
        let mut names = FxHashMap::default();
        for i in 0..tensor_count {
            let (info, stored_offset) = read_tensor_info(&mut c, i)?;
            if names.insert(info.name.clone(), tensors.len()).is_some() {
                return Err(model_error(format!("tensor `{}` is given twice", info.name)));
            }
            tensors.push((info, stored_offset));
        }

        let mut gguf = Gguf {
            bytes: Vec::new(),
            version,
            alignment: DEFAULT_ALIGNMENT,
            data_offset: 0,
            metadata,
            keys,
            tensors: Vec::new(),
            names,
        };
        if let Some(value) = gguf.get("general.alignment") {
            let a = value.as_i128().unwrap_or(0);
            if !(1..=1 << 30).contains(&a) || a & (a - 1) != 0 {
                return Err(model_error(format!(
                    "metadata key `general.alignment` is {}; it must be a power of two",
                    value.describe()
                )));
            }
            gguf.alignment = a as usize;
        }
        let a = gguf.alignment;
        gguf.data_offset = c
            .pos
            .div_ceil(a)
            .checked_mul(a)
            .ok_or_else(|| model_error(format!("the data section offset overflows (alignment {a})")))?;
        let len = bytes.len();
        if tensor_count > 0 && gguf.data_offset > len {
            return Err(model_error(format!(
                "the data section would start at offset {}, past the end of the file ({len} bytes; truncated?)",
                gguf.data_offset
            )));
        }
        gguf.tensors = place_tensors(tensors, gguf.data_offset, a, len)?;
        gguf.bytes = bytes;
        Ok(gguf)
    }

    /// The GGUF version (3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The alignment of the data section and of the tensors (`general.alignment`, default 32).
    pub fn alignment(&self) -> usize {
        self.alignment
    }

    /// Where the data section starts in the file.
    pub fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The metadata in file order.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.metadata.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The tensor infos in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// One metadata value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.keys.get(key).map(|&i| &self.metadata[i].1)
    }

    fn require(&self, key: &str) -> Result<&Value> {
        self.get(key).ok_or_else(|| model_error(format!("metadata key `{key}` is missing")))
    }

    fn wrong_type(key: &str, found: &Value, expected: &str) -> Error {
        model_error(format!("metadata key `{key}` is {}, expected {expected}", found.describe()))
    }

    /// An integer of any type whose value fits in u32.
    ///
    /// # Errors
    /// `MODEL` naming the key when it is missing, not an integer or out of range.
    pub fn u32(&self, key: &str) -> Result<u32> {
        let value = self.require(key)?;
        value.as_i128().and_then(|v| u32::try_from(v).ok()).ok_or_else(|| Self::wrong_type(key, value, "a u32"))
    }

    /// A FLOAT32 (or FLOAT64, rounded).
    ///
    /// # Errors
    /// `MODEL` naming the key when it is missing or not a float.
    pub fn f32(&self, key: &str) -> Result<f32> {
        match self.require(key)? {
            Value::F32(v) => Ok(*v),
            Value::F64(v) => Ok(*v as f32),
            other => Err(Self::wrong_type(key, other, "FLOAT32")),
        }
    }

    /// A BOOL.
    ///
    /// # Errors
    /// `MODEL` naming the key when it is missing or not a BOOL.
    pub fn bool(&self, key: &str) -> Result<bool> {
        match self.require(key)? {
            Value::Bool(v) => Ok(*v),
            other => Err(Self::wrong_type(key, other, "BOOL")),
        }
    }

    /// A STRING.
    ///
    /// # Errors
    /// `MODEL` naming the key when it is missing or not a STRING.
    pub fn string(&self, key: &str) -> Result<&str> {
        let value = self.require(key)?;
        value.as_str().ok_or_else(|| Self::wrong_type(key, value, "STRING"))
    }

    /// An array's elements, decoded from the file.
    ///
    /// # Errors
    /// None for this file's arrays ([`Gguf::parse`] checked them); `MODEL` for another file's that do not decode.
    pub fn items(&self, array: &Array) -> Result<Vec<Value>> {
        let mut c = self.cursor(array);
        (0..array.len)
            .map(|_| read_value(&mut c, array.kind, 0))
            .collect::<Result<_, _>>()
            .map_err(|e| not_this_file(&e))
    }

    fn cursor(&self, array: &Array) -> Cursor<'_> {
        Cursor { bytes: &self.bytes, pos: array.at }
    }

    /// An ARRAY of STRING, left in the file: its length without decoding it.
    ///
    /// # Errors
    /// `MODEL` naming the key when it is missing or not an array of strings.
    pub fn string_array(&self, key: &str) -> Result<&Array> {
        match self.require(key)? {
            Value::Array(array @ Array { kind: 8, .. }) => Ok(array),
            other => Err(Self::wrong_type(key, other, "ARRAY[STRING]")),
        }
    }

    /// An ARRAY of STRING, borrowed from the file.
    ///
    /// # Errors
    /// `MODEL` naming the key when it is missing or not an array of strings.
    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        let array = self.string_array(key)?;
        let mut c = self.cursor(array);
        (0..array.len).map(|_| c.str()).collect::<Result<_, _>>().map_err(|e| not_this_file(&e))
    }

    /// An ARRAY of integers that all fit in i32 (INT32 in practice), decoded straight from the file.
    ///
    /// # Errors
    /// `MODEL` naming the key when it is missing or not such an array.
    pub fn i32s(&self, key: &str) -> Result<Vec<i32>> {
        let value = self.require(key)?;
        let Value::Array(array) = value else { return Err(Self::wrong_type(key, value, "ARRAY[INT32]")) };
        let mut c = self.cursor(array);
        (0..array.len)
            .map(|_| {
                let item = read_value(&mut c, array.kind, 0).map_err(|e| not_this_file(&e))?;
                item.as_i128()
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| Self::wrong_type(key, value, "ARRAY[INT32]"))
            })
            .collect()
    }

    /// One tensor's info.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.names.get(name).map(|&i| &self.tensors[i])
    }

    /// One tensor, a view into the file's bytes.
    ///
    /// # Errors
    /// `MODEL` when the file has no tensor of that name.
    pub fn tensor(&self, name: &str) -> Result<Tensor<'_>> {
        let info = self.tensor_info(name).ok_or_else(|| model_error(format!("the file has no tensor `{name}`")))?;
        Ok(Tensor {
            name: &info.name,
            shape: &info.shape,
            kind: info.kind,
            bytes: &self.bytes[info.offset..info.offset + info.size],
        })
    }
}

/// Checks each tensor's stored offset (aligned, data inside the file) and makes it absolute.
fn place_tensors(tensors: Vec<(TensorInfo, u64)>, data_offset: usize, a: usize, len: usize) -> Result<Vec<TensorInfo>> {
    let data_len = (len - data_offset.min(len)) as u64;
    tensors
        .into_iter()
        .map(|(mut info, stored)| {
            if stored % a as u64 != 0 {
                return Err(model_error(format!(
                    "tensor `{}` has offset {stored}, not a multiple of the alignment {a}",
                    info.name
                )));
            }
            if stored > data_len || info.size as u64 > data_len - stored {
                return Err(model_error(format!(
                    "tensor `{}` ({} bytes at offset {stored} of the data section, which starts at {data_offset}) \
                     extends past the end of the file ({len} bytes; truncated?)",
                    info.name, info.size
                )));
            }
            info.offset = data_offset + stored as usize;
            Ok(info)
        })
        .collect()
}

/// Reads the tensor info #`i`; returns it (offset still 0) and the offset the file stores.
fn read_tensor_info(c: &mut Cursor<'_>, i: usize) -> Result<(TensorInfo, u64)> {
    let name = c.string().map_err(|e| model_error(format!("tensor info #{i}: name: {e}")))?;
    let in_tensor = |e: String| model_error(format!("tensor `{name}`: {e}"));
    let n_dims = c.u32().map_err(in_tensor)?;
    if n_dims > MAX_DIMS {
        return Err(model_error(format!("tensor `{name}` has {n_dims} dimensions; ggml allows at most {MAX_DIMS}")));
    }
    let mut shape = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        let ne = c.u64().map_err(in_tensor)?;
        shape.push(
            usize::try_from(ne)
                .ok()
                .filter(|&n| i64::try_from(n).is_ok())
                .ok_or_else(|| model_error(format!("tensor `{name}` has an impossible dimension {ne}")))?,
        );
    }
    let id = c.u32().map_err(in_tensor)?;
    let kind = GgmlType::from_id(id).map_err(|_| {
        model_error(format!("tensor `{name}` has {}, supported: {}", GgmlType::describe_id(id), GgmlType::supported()))
    })?;
    let stored_offset = c.u64().map_err(in_tensor)?;
    let cols = shape.first().copied().unwrap_or(1);
    if cols % kind.block_size() != 0 {
        return Err(model_error(format!(
            "tensor `{name}` has rows of {cols} elements, not a multiple of the {kind} block size {}",
            kind.block_size()
        )));
    }
    // The row count is checked on its own too: with a zero-length row, the element count cannot overflow.
    let size = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|_| shape.iter().skip(1).try_fold(1usize, |n, &d| n.checked_mul(d)).is_some())
        .and_then(|n| (n / kind.block_size()).checked_mul(kind.block_bytes()))
        .ok_or_else(|| model_error(format!("tensor `{name}` of shape {shape:?} is impossibly large")))?;
    Ok((TensorInfo { name, shape, kind, offset: 0, size }, stored_offset))
}

/// A tensor: a view into the file's bytes, still in its ggml type. Rows are `shape[0]` elements long.
#[derive(Clone, Copy)]
pub struct Tensor<'a> {
    pub name: &'a str,
    /// GGUF order: `ne0` (a row's length) first.
    pub shape: &'a [usize],
    pub kind: GgmlType,
    /// The tensor's data, `rows() · row_bytes()` bytes.
    pub bytes: &'a [u8],
}

impl std::fmt::Debug for Tensor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tensor")
            .field("name", &self.name)
            .field("shape", &self.shape)
            .field("kind", &self.kind)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Reads a little-endian f16 at `b[0..2]`.
#[inline]
fn f16_at(b: &[u8]) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[0], b[1]]))
}

/// The sum of 16 lanes in a fixed pairwise order.
#[inline]
fn hsum16(a: &[f32; 16]) -> f32 {
    let mut s = [0f32; 8];
    for (i, v) in s.iter_mut().enumerate() {
        *v = a[i] + a[i + 8];
    }
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

/// Σ x over one block of 32, in a fixed order (so that `dot_row` and `matvec` agree bit for bit).
#[inline]
fn block_sum(x: &[f32]) -> f32 {
    let mut a = [0f32; 16];
    for (i, v) in a.iter_mut().enumerate() {
        *v = x[i] + x[i + 16];
    }
    hsum16(&a)
}

/// Splits a block of 32 values into its two halves of 16.
#[inline]
fn halves(x: &[f32]) -> (&[f32; 16], &[f32; 16]) {
    let (lo, hi) = x.split_at(16);
    (lo.try_into().expect("16"), hi.try_into().expect("16"))
}

// The kernels below add d·(q_j·x_j + q_{j+16}·x_{j+16}) into 16 independent lanes, which LLVM turns into 4-wide
// (SSE, wasm simd128) or 8-wide (AVX) vector code. Each is kept out of line with its lanes behind a `&mut`: inlined
// into a caller whose lanes start at zero, LLVM's SLP vectoriser pairs the lanes two by two instead (measured with
// cachegrind: twice the instructions per block).

#[inline(never)]
fn lanes_q4_0(row: &[u8], x: &[f32], acc: &mut [f32; 16]) {
    for (block, xb) in row.chunks_exact(18).zip(x.chunks_exact(QK)) {
        let d = f16_at(block);
        let qs: &[u8; 16] = block[2..].try_into().expect("16");
        let (lo, hi) = halves(xb);
        for j in 0..16 {
            let q0 = f32::from(i16::from(qs[j] & 15) - 8);
            let q1 = f32::from(i16::from(qs[j] >> 4) - 8);
            acc[j] += d * (q0 * lo[j] + q1 * hi[j]);
        }
    }
}

#[inline(never)]
fn lanes_q4_1(row: &[u8], x: &[f32], acc: &mut [f32; 16]) {
    for (block, xb) in row.chunks_exact(20).zip(x.chunks_exact(QK)) {
        let d = f16_at(block);
        let qs: &[u8; 16] = block[4..].try_into().expect("16");
        let (lo, hi) = halves(xb);
        for j in 0..16 {
            acc[j] += d * (f32::from(qs[j] & 15) * lo[j] + f32::from(qs[j] >> 4) * hi[j]);
        }
    }
}

#[inline(never)]
fn lanes_q8_0(row: &[u8], x: &[f32], acc: &mut [f32; 16]) {
    for (block, xb) in row.chunks_exact(34).zip(x.chunks_exact(QK)) {
        let d = f16_at(block);
        let qs: &[u8; 32] = block[2..].try_into().expect("32");
        let (lo, hi) = halves(xb);
        for j in 0..16 {
            acc[j] += d * (f32::from(qs[j] as i8) * lo[j] + f32::from(qs[j + 16] as i8) * hi[j]);
        }
    }
}

/// F32 and F16: whole chunks of 16 into the lanes; returns the number of elements done.
#[inline(never)]
fn lanes_f32(row: &[u8], x: &[f32], acc: &mut [f32; 16]) -> usize {
    let mut n = 0;
    for (b, xs) in row.chunks_exact(64).zip(x.chunks_exact(16)) {
        for j in 0..16 {
            acc[j] += f32::from_le_bytes([b[4 * j], b[4 * j + 1], b[4 * j + 2], b[4 * j + 3]]) * xs[j];
        }
        n += 16;
    }
    n
}

#[inline(never)]
fn lanes_f16(row: &[u8], x: &[f32], acc: &mut [f32; 16]) -> usize {
    let mut n = 0;
    for (b, xs) in row.chunks_exact(32).zip(x.chunks_exact(16)) {
        for j in 0..16 {
            acc[j] += f16_at(&b[2 * j..]) * xs[j];
        }
        n += 16;
    }
    n
}

/// Q4_1: the lanes, then Σ m·Σx over the blocks. `sums`: Σx per block, precomputed by `matvec`; computed here when
/// absent, the same way.
fn dot_q4_1(row: &[u8], x: &[f32], sums: Option<&[f32]>) -> f32 {
    let mut acc = [0f32; 16];
    lanes_q4_1(row, x, &mut acc);
    let mut m_sum = 0f32;
    for (b, (block, xb)) in row.chunks_exact(20).zip(x.chunks_exact(QK)).enumerate() {
        m_sum += f16_at(&block[2..]) * sums.map_or_else(|| block_sum(xb), |s| s[b]);
    }
    hsum16(&acc) + m_sum
}

impl<'a> Tensor<'a> {
    /// Elements per row: `shape[0]`.
    pub fn cols(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Rows: the product of `shape[1..]`.
    pub fn rows(&self) -> usize {
        self.shape.iter().skip(1).product()
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> usize {
        self.cols() / self.kind.block_size() * self.kind.block_bytes()
    }

    /// The bytes of row `r`.
    ///
    /// # Panics
    /// When `r` is not below `rows()`.
    pub fn row(&self, r: usize) -> &'a [u8] {
        assert!(r < self.rows(), "row {r} of tensor `{}` with {} rows", self.name, self.rows());
        let n = self.row_bytes();
        &self.bytes[r * n..(r + 1) * n]
    }

    /// Dequantises row `r` into `out` (`cols()` values), bit-exact with gguf-python.
    ///
    /// # Panics
    /// When `r` is out of range or `out.len() != cols()`.
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        assert_eq!(out.len(), self.cols(), "output length for a row of tensor `{}`", self.name);
        let row = self.row(r);
        match self.kind {
            GgmlType::F32 => {
                for (o, b) in out.iter_mut().zip(row.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
            GgmlType::F16 => {
                for (o, b) in out.iter_mut().zip(row.chunks_exact(2)) {
                    *o = f16_at(b);
                }
            }
            GgmlType::Q4_0 => {
                for (o, block) in out.chunks_exact_mut(QK).zip(row.chunks_exact(18)) {
                    let d = f16_at(block);
                    for (j, &q) in block[2..].iter().enumerate() {
                        o[j] = f32::from(i16::from(q & 15) - 8) * d;
                        o[j + 16] = f32::from(i16::from(q >> 4) - 8) * d;
                    }
                }
            }
            GgmlType::Q4_1 => {
                for (o, block) in out.chunks_exact_mut(QK).zip(row.chunks_exact(20)) {
                    let (d, m) = (f16_at(block), f16_at(&block[2..]));
                    for (j, &q) in block[4..].iter().enumerate() {
                        o[j] = d * f32::from(q & 15) + m;
                        o[j + 16] = d * f32::from(q >> 4) + m;
                    }
                }
            }
            GgmlType::Q8_0 => {
                for (o, block) in out.chunks_exact_mut(QK).zip(row.chunks_exact(34)) {
                    let d = f16_at(block);
                    for (v, &q) in o.iter_mut().zip(&block[2..]) {
                        *v = f32::from(q as i8) * d;
                    }
                }
            }
        }
    }

    /// The whole tensor dequantised, row after row.
    pub fn dequantize(&self) -> Vec<f32> {
        let cols = self.cols();
        let mut out = vec![0f32; self.rows() * cols];
        if cols > 0 {
            for (r, o) in out.chunks_exact_mut(cols).enumerate() {
                self.dequantize_row(r, o);
            }
        }
        out
    }

    /// Row `r` · `x`, straight from the quantised blocks (per block Σ q·x, then scaled; plus m·Σx for Q4_1), in f32.
    ///
    /// # Panics
    /// When `r` is out of range or `x.len() != cols()`.
    pub fn dot_row(&self, r: usize, x: &[f32]) -> f32 {
        assert_eq!(x.len(), self.cols(), "input length for tensor `{}`", self.name);
        self.dot(self.row(r), x, None)
    }

    fn dot(&self, row: &[u8], x: &[f32], sums: Option<&[f32]>) -> f32 {
        let mut acc = [0f32; 16];
        let tail = match self.kind {
            GgmlType::Q4_1 => return dot_q4_1(row, x, sums),
            GgmlType::Q4_0 => {
                lanes_q4_0(row, x, &mut acc);
                0.0
            }
            GgmlType::Q8_0 => {
                lanes_q8_0(row, x, &mut acc);
                0.0
            }
            GgmlType::F32 => {
                let n = lanes_f32(row, x, &mut acc);
                row[4 * n..]
                    .chunks_exact(4)
                    .zip(&x[n..])
                    .map(|(b, &x)| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * x)
                    .sum()
            }
            GgmlType::F16 => {
                let n = lanes_f16(row, x, &mut acc);
                row[2 * n..].chunks_exact(2).zip(&x[n..]).map(|(b, &x)| f16_at(b) * x).sum()
            }
        };
        hsum16(&acc) + tail
    }

    /// `out[r] = row r · x` for every row (the matrix-vector product `W x` of a `[rows][cols]` weight); equal bit
    /// for bit to `dot_row` row by row.
    ///
    /// # Panics
    /// When `x.len() != cols()` or `out.len() != rows()`.
    pub fn matvec(&self, x: &[f32], out: &mut [f32]) {
        assert_eq!(x.len(), self.cols(), "input length for tensor `{}`", self.name);
        assert_eq!(out.len(), self.rows(), "output length for tensor `{}`", self.name);
        let sums: Option<Vec<f32>> = (self.kind == GgmlType::Q4_1).then(|| x.chunks_exact(QK).map(block_sum).collect());
        let n = self.row_bytes();
        if n == 0 {
            out.fill(0.0);
            return;
        }
        for (o, row) in out.iter_mut().zip(self.bytes.chunks_exact(n)) {
            *o = self.dot(row, x, sums.as_deref());
        }
    }
}
