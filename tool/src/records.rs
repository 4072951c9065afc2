//! How `dump` and `tail` print a record: one line, text or JSON, with its
//! frame's position when asked.

use std::io::{self, Write};

use wal_core::Position;

use crate::args::Format;

/// How records are printed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordFormat {
    /// Text or JSON lines.
    pub(crate) format: Format,
    /// Whether each line carries its frame's position.
    pub(crate) positions: bool,
}

impl RecordFormat {
    /// Writes one record of series `series` at `ts` with `value`, in the
    /// frame at `at`, as one line: `[position SEG:OFF ]segment S series ...`
    /// or `{"segment": S, ["position": "SEG:OFF", ]"series_id": ...}`.
    pub(crate) fn write(
        &self,
        out: &mut dyn Write,
        at: Position,
        series: u64,
        ts: i64,
        value: &[u8],
    ) -> io::Result<()> {
        let id = at.segment;
        match (self.format, self.positions) {
            (Format::Jsonl, false) => writeln!(
                out,
                "{{\"segment\": {id}, \"series_id\": {series}, \"timestamp\": {ts}, \"value_hex\": \"{}\"}}",
                const_hex::encode(value)
            ),
            (Format::Jsonl, true) => writeln!(
                out,
                "{{\"segment\": {id}, \"position\": \"{at}\", \"series_id\": {series}, \"timestamp\": {ts}, \"value_hex\": \"{}\"}}",
                const_hex::encode(value)
            ),
            (Format::Text, false) => writeln!(
                out,
                "segment {id} series {series} timestamp {ts} value {}",
                value.escape_ascii()
            ),
            (Format::Text, true) => writeln!(
                out,
                "position {at} segment {id} series {series} timestamp {ts} value {}",
                value.escape_ascii()
            ),
        }
    }
}
