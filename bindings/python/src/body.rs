//! The bytes of a body, and when to let go of the GIL while working on them. A leaf:
//! `convert` makes bodies from Python values, `json` and `lib` read them.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Bodies at least this long are hashed with the GIL released. Below it, releasing and
/// re-taking the GIL costs more than the hashing it would let run in parallel.
pub(crate) const DETACH_AT: usize = 4096;

/// The bytes of a body, borrowed from an immutable `bytes` object when possible.
pub(crate) enum Body<'py> {
    /// `bytes` are immutable: their buffer can be read with the GIL released.
    Borrowed(Bound<'py, PyBytes>),
    /// A copy (of a `bytearray`, which another thread could change) or a new encoding
    /// (of a `str`, or the canonical form of a mapping).
    Owned(Vec<u8>),
}

impl Body<'_> {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Body::Borrowed(bytes) => bytes.as_bytes(),
            Body::Owned(vec) => vec,
        }
    }
}
