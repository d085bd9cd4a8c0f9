//! Reading an import's CSV file: its header bound to the mapping, then its rows in
//! chunks on a blocking thread, each row read into what the mapping makes of it or the
//! problems of its cells; a row that runs on without end is refused.

use super::CHUNK_ROWS;
use crate::{AppError, ErrorCode};
use leadgate_core::import::{Binding, ImportRow, Mapping, RowError};
use std::io::Read;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The longest row (record) a file may have. A row of hundreds of columns fits many
/// times over; a "row" that runs on for megabytes is a quote left open, or not CSV, and
/// would be held whole in memory.
pub const RECORD_BYTES_MAX: u64 = 1 << 20;

/// A file read by the CSV reader, refused once a row runs past [`RECORD_BYTES_MAX`]:
/// the reader says where each row starts (`row_start`), and this counts what it took.
pub(super) struct RowLimit<R> {
    inner: R,
    taken: u64,
    row_start: Arc<std::sync::atomic::AtomicU64>,
}

impl<R> RowLimit<R> {
    pub(super) fn new(inner: R, row_start: Arc<std::sync::atomic::AtomicU64>) -> Self {
        Self { inner, taken: 0, row_start }
    }
}

impl<R: Read> Read for RowLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // The reader takes its buffer's worth (8 KiB) beyond the row it is reading.
        let start = self.row_start.load(std::sync::atomic::Ordering::Relaxed);
        if self.taken.saturating_sub(start) > RECORD_BYTES_MAX + CSV_BUFFER as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a row runs on past {} MiB (a quote left open?)", RECORD_BYTES_MAX >> 20),
            ));
        }
        let n = self.inner.read(buf)?;
        self.taken += n as u64;
        Ok(n)
    }
}

/// The CSV reader's buffer.
pub(super) const CSV_BUFFER: usize = 8 * 1024;

/// A row read from the file: where it starts, and what it says (or what is wrong).
pub(super) struct ReadRow {
    pub(super) line: u64,
    /// The first (or only) contact its line names: a line naming several contacts is
    /// one row of the file.
    pub(super) first: bool,
    pub(super) row: Result<ImportRow, Vec<RowError>>,
}

/// Rows read by the reader thread, and how far into the file it was.
pub(super) struct ReadChunk {
    pub(super) rows: Vec<ReadRow>,
    pub(super) bytes: u64,
}

/// Reads the rows after the header in chunks of [`CHUNK_ROWS`], until the end of the
/// file or until nobody takes the chunks any more. Runs on a blocking thread.
pub(super) fn read_chunks<R: Read>(
    mut reader: csv::Reader<R>,
    row_start: &std::sync::atomic::AtomicU64,
    binding: &Binding,
    send: &mpsc::Sender<ReadChunk>,
) {
    let mut record = csv::ByteRecord::new();
    let mut rows: Vec<ReadRow> = Vec::with_capacity(CHUNK_ROWS);
    loop {
        row_start.store(reader.position().byte(), std::sync::atomic::Ordering::Relaxed);
        let next_line = reader.position().line();
        let more = match reader.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                // The reader cannot go on past a broken record (e.g. an I/O error); what
                // was read so far is still imported.
                let line = e.position().map_or(next_line, |p| p.line());
                let error = RowError { row: line, column: None, code: "unreadable".into(), message: e.to_string() };
                rows.push(ReadRow { line, first: true, row: Err(vec![error]) });
                false
            }
        };
        if more {
            let (line, number) = record.position().map_or((0, 0), |p| (p.line(), p.record()));
            match read_row(binding, &record, line, number) {
                Ok(named) => rows.extend(named.into_iter().enumerate().map(|(i, row)| ReadRow {
                    line,
                    first: i == 0,
                    row: Ok(row),
                })),
                Err(errors) => rows.push(ReadRow { line, first: true, row: Err(errors) }),
            }
        }
        if rows.len() >= CHUNK_ROWS || (!more && !rows.is_empty()) {
            let chunk = ReadChunk { rows: std::mem::take(&mut rows), bytes: reader.position().byte() };
            if send.blocking_send(chunk).is_err() {
                return;
            }
        }
        if !more {
            return;
        }
    }
}

/// Reads the header and binds the mapping to it; refuses what is not a CSV file.
pub(super) fn read_header<R: Read>(reader: &mut csv::Reader<R>, mapping: &Mapping) -> Result<Binding, AppError> {
    let mut header = csv::ByteRecord::new();
    let has = reader
        .read_byte_record(&mut header)
        .map_err(|e| AppError::new(ErrorCode::NotCsv, format!("the file is not CSV: {e}")))?;
    if !has || header.iter().all(|h| h.is_empty()) {
        return Err(AppError::new(
            ErrorCode::EmptyFile,
            "the file is empty: a CSV file starts with a header row naming its columns",
        ));
    }
    if header.iter().any(|h| h.contains(&0)) {
        return Err(AppError::new(ErrorCode::NotCsv, "the file is not CSV: its first line holds binary data"));
    }
    let names: Vec<String> =
        header.iter().map(|h| std::str::from_utf8(h).map(str::to_owned)).collect::<Result<_, _>>().map_err(|_| {
            AppError::new(ErrorCode::NotCsv, "the file is not CSV: its header is not UTF-8 text (save it as UTF-8 CSV)")
        })?;
    mapping.bind(&names).map_err(|e| AppError::new(ErrorCode::MappingMismatch, e.to_string()))
}

/// Reads row `number` (the header is row 0), which starts on `line`.
fn read_row(
    binding: &Binding,
    record: &csv::ByteRecord,
    line: u64,
    number: u64,
) -> Result<Vec<ImportRow>, Vec<RowError>> {
    let mut cells = Vec::with_capacity(record.len());
    let mut errors = Vec::new();
    for (i, cell) in record.iter().enumerate() {
        match std::str::from_utf8(cell) {
            Ok(s) if s.contains('\0') => errors.push(RowError {
                row: line,
                column: binding.column_name(i),
                code: "invalid_value".into(),
                message: "the cell contains a NUL byte".into(),
            }),
            Ok(s) => cells.push(s),
            Err(_) => {
                errors.push(RowError {
                    row: line,
                    column: binding.column_name(i),
                    code: "not_utf8".into(),
                    message: "the cell is not UTF-8 text; save the file as UTF-8".into(),
                });
                cells.push("");
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    binding.read(&cells, line, number)
}
