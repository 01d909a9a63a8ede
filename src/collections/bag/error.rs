//! [`BagError`]: what can go wrong building or running a Bag pipeline. Each names what the
//! user must look at (the pattern, the file and byte offset, the function).

/// A Bag pipeline could not be built or a Bag task failed. Retrying helps only for
/// [`BagError::Unreadable`] when the cause was transient.
#[derive(Debug, thiserror::Error)]
pub enum BagError {
    /// A glob matched no file.
    #[error("read_text: no file matches {pattern:?}")]
    NoMatch {
        /// The pattern as given.
        pattern: String,
    },
    /// A glob is not a valid pattern.
    #[error("read_text: {pattern:?} is not a valid glob: {message}")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// The parser's message.
        message: String,
    },
    /// A file could not be opened or read.
    #[error("could not read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid UTF-8 (pass `lossy` to replace bad bytes instead).
    #[error("{path} is not valid UTF-8 at byte {offset} (use TextOptions {{ lossy: true, .. }} to replace invalid bytes)")]
    InvalidUtf8 {
        /// The file.
        path: String,
        /// Offset of the first invalid byte in the (decompressed) file.
        offset: u64,
    },
    /// A compressed file could not be decompressed.
    #[error("{path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// The decompressor's message.
        message: String,
    },
    /// A step's function is not in this binary, or has another signature.
    #[error("the bag step function {function} is {problem} in this worker's binary")]
    Function {
        /// The function's name.
        function: String,
        /// "missing" or "of another signature".
        problem: &'static str,
    },
    /// A value had another type than the pipeline expected.
    #[error("bag step {step}: {message}")]
    Type {
        /// The operation (`filter`, `flat_map`, `sum`, …).
        step: &'static str,
        /// What was found.
        message: String,
    },
    /// A bound argument of a step is a future, which bag steps can't read.
    #[error("bag steps bind values only, not futures ({function})")]
    BoundFuture {
        /// The function.
        function: String,
    },
    /// A step's arguments could not be encoded.
    #[error("could not encode a bag step: {0}")]
    Codec(#[from] crate::messages::CodecError),
}
