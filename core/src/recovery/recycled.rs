//! Recovery of a recycled newest segment (FORMAT.md, "Recycled segments"):
//! a file whose new header never became durable is started over, nothing
//! copied; after the log's end, at most one frame's worth of bytes can be
//! a torn write (one frame in flight), so only that much is set aside and
//! zeroed, and the stale frames after it stay where they are.

use embedded_io::{Seek, SeekFrom, Write};

use super::{finish_recycled, is_zero, set_aside, Recovered, RecoveryReport, TornTail};
use crate::error::{storage_err, Error};
use crate::format::{header, Corruption, SegmentId};
use crate::storage::{SegmentFile, Storage};
use crate::summary::SegmentInfo;

/// Zeros to overwrite a torn write with.
static ZEROS: [u8; 4096] = [0; 4096];

/// If segment `id`'s file holds, whole, the header of an older segment
/// (`head`, its first bytes), it is a recycled file whose new header never
/// became durable: writes its version 2 header and returns it, holding no
/// data. Any other file is given back.
pub(super) fn restart_stale_header<F: SegmentFile>(
    mut file: F,
    id: SegmentId,
    head: &[u8],
    len: u64,
    report: &mut RecoveryReport,
) -> Result<Result<Recovered<F>, F>, Error> {
    let from = header::named_id(head).filter(|&p| p < id);
    let Some(h) = from.and_then(|p| header::encode_recycled(id, p)) else {
        return Ok(Err(file));
    };
    file.seek(SeekFrom::Start(0))
        .map_err(storage_err("seek", id))?;
    file.write_all(&h).map_err(storage_err("write", id))?;
    report.restarted = true;
    let info = SegmentInfo::empty(id);
    finish_recycled(file, info, len).map(Ok)
}

/// The end of a recycled segment's log at `offset`, with no valid frame
/// of it after: the first `max_written` bytes there (one frame's worth),
/// if not all zero, may be a torn write: copied to a sidecar, then zeroed.
/// The rest is stale and stays.
#[allow(clippy::too_many_arguments)]
pub(super) fn recycled_tail<S: Storage>(
    storage: &mut S,
    mut file: S::File,
    id: SegmentId,
    offset: u64,
    len: u64,
    reason: Corruption,
    max_written: u64,
    info: SegmentInfo,
    report: &mut RecoveryReport,
) -> Result<Recovered<S::File>, Error> {
    let end = len.min(offset.saturating_add(max_written));
    if !is_zero(&mut file, id, offset, end)? {
        let sidecar = set_aside(storage, &mut file, id, offset, end)?;
        file.seek(SeekFrom::Start(offset))
            .map_err(storage_err("seek", id))?;
        let mut left = end - offset;
        while left > 0 {
            let n = left.min(ZEROS.len() as u64) as usize;
            file.write_all(&ZEROS[..n])
                .map_err(storage_err("write", id))?;
            left -= n as u64;
        }
        report.cut = Some(TornTail {
            segment: id,
            offset,
            bytes: end - offset,
            reason,
            sidecar,
            frames_after: 0,
            records_after: 0,
        });
    }
    finish_recycled(file, info, len)
}
