use cdr_core::{Cdr, Column, RecordKind, Selection};

/// The columns an encoder writes: a record kind and which of its columns, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSet {
    kind: RecordKind,
    indices: Vec<usize>,
}

impl ColumnSet {
    /// Every column of `kind`, in documented order.
    pub fn all(kind: RecordKind) -> ColumnSet {
        ColumnSet {
            kind,
            indices: (0..kind.columns().len()).collect(),
        }
    }

    /// The columns of `kind` that `selection` selects, in query order.
    pub fn selected(kind: RecordKind, selection: &Selection) -> ColumnSet {
        let cols = kind.columns();
        ColumnSet {
            kind,
            indices: selection
                .columns(kind)
                .filter_map(|c| cols.iter().position(|x| x == c))
                .collect(),
        }
    }

    /// The record kind.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// `(index into RecordKind::columns, column)` pairs, in output order. The
    /// index is what [`Cdr::value`] takes.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (usize, &'static Column)> + '_ {
        let cols = self.kind.columns();
        self.indices.iter().map(move |&i| (i, &cols[i]))
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether no column is selected.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Why records could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A record of another kind than the encoder's.
    #[error("a {got} record was given to an encoder of {expected} records")]
    WrongKind {
        expected: RecordKind,
        got: RecordKind,
    },
    /// A value the format cannot hold exactly (e.g. a decimal with too many places).
    #[error("column `{column}`: {message}")]
    Value {
        column: &'static str,
        message: String,
    },
    /// The format library failed.
    #[error("{format} encoding failed: {message}")]
    Format {
        format: &'static str,
        message: String,
    },
    /// The encoder was used after `finish`.
    #[error("the encoder was used after its file was finished")]
    Finished,
}

/// A file format: makes encoders. Knows nothing of destinations.
pub trait Format: Send + Sync + std::fmt::Debug {
    /// Short name, e.g. `parquet`.
    fn name(&self) -> &'static str;
    /// File extension without the dot, e.g. `parquet`.
    fn extension(&self) -> &'static str;
    /// MIME type of the files, e.g. `application/vnd.apache.parquet`.
    fn content_type(&self) -> &'static str;
    /// An encoder for one file of `columns`.
    fn encoder(&self, columns: ColumnSet) -> Result<Box<dyn Encoder>, EncodeError>;
    /// A counter of the rows of one file of this format, fed its bytes as
    /// they are read (for checks after writing, such as `cdr-sink verify`).
    fn row_counter(&self) -> Box<dyn RowCounter>;
}

/// Counts the rows of one file as its bytes stream by, in memory bounded by
/// the format (e.g. the tail that holds a Parquet footer), never by the
/// file's size.
pub trait RowCounter: Send {
    /// The next bytes of the file.
    fn feed(&mut self, chunk: &[u8]) -> Result<(), ReadError>;
    /// The file has ended: its number of data rows.
    fn finish(self: Box<Self>) -> Result<u64, ReadError>;
}

/// Why a file's rows could not be counted: its bytes are not a whole,
/// well-formed file of its format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a readable {format} file: {message}")]
pub struct ReadError {
    pub format: &'static str,
    pub message: String,
}

/// Encodes the records of one file. Bytes come out incrementally through
/// [`Encoder::take_ready`] so that memory stays bounded by the format's own
/// buffering (e.g. one Parquet row group), never by the file's size.
pub trait Encoder: Send {
    /// Encodes records, all of the encoder's kind.
    fn encode(&mut self, records: &[Cdr]) -> Result<(), EncodeError>;
    /// Bytes that are final and can be stored now (possibly none).
    fn take_ready(&mut self) -> Vec<u8>;
    /// Ends the file (flushes buffered rows, writes any footer) and returns the
    /// remaining bytes. Calling anything afterwards is [`EncodeError::Finished`].
    fn finish(&mut self) -> Result<Vec<u8>, EncodeError>;
    /// Rows encoded so far.
    fn rows(&self) -> u64;
    /// Bytes of the file so far, including buffered data not yet ready: what
    /// files are rolled on.
    fn size_estimate(&self) -> u64;
}
