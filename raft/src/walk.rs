//! Walking the WAL's records in log order, each named by where it is
//! (its frame's position and its ordinal among the frame's records), and
//! reading entries back from those places. Blocking: call from a blocking
//! thread.

use std::ops::ControlFlow;

use wal::{Position, Replay};
use wal_host_std::ThreadedStorage;

use crate::error::Error;
use crate::record::{decode_part, BadRecord, Kind, SERIES};

/// Where a record is: its frame and its ordinal among the frame's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    /// The frame holding the record.
    pub frame: Position,
    /// The record's ordinal in the frame (0 for its first).
    pub ord: u32,
}

/// One record as the walk hands it out.
#[derive(Debug)]
pub struct Rec<'a> {
    /// Where it is.
    pub place: Place,
    /// What kind it is.
    pub kind: Kind,
    /// Its value.
    pub value: &'a [u8],
}

/// Calls `f` with every record `replay` yields, in log order, until `f`
/// says stop or the replay ends. A record of another series or of an
/// unknown kind is [`Error::Corrupt`]: the WAL holds this log alone.
pub fn walk<S: ThreadedStorage>(
    replay: &mut Replay<S>,
    mut f: impl FnMut(Rec<'_>) -> Result<ControlFlow<()>, Error>,
) -> Result<(), Error> {
    let mut last: Option<Position> = None;
    let mut ord = 0u32;
    for item in replay.by_ref() {
        let (frame, entry) = item?;
        if last != Some(frame) {
            last = Some(frame);
            ord = 0;
        }
        if entry.series_id != SERIES {
            let reason = format!("series {:#x} is not the raft log's", entry.series_id);
            return Err(Error::corrupt(frame, BadRecord(reason)));
        }
        for (ts, value) in entry.timestamps.iter().zip(&entry.values) {
            let kind = Kind::from_timestamp(*ts).ok_or_else(|| {
                Error::corrupt(frame, BadRecord(format!("unknown record kind {ts}")))
            })?;
            let place = Place { frame, ord };
            ord += 1;
            if f(Rec { place, kind, value })?.is_break() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Joins an entry's parts as they come, in order.
#[derive(Debug)]
pub struct Joiner {
    /// Where the entry's first part is.
    pub start: Place,
    /// The entry's index.
    pub index: u64,
    parts: u32,
    next: u32,
    bytes: Vec<u8>,
}

/// What feeding a part to a [`Joiner`] gave.
pub enum Fed {
    /// More parts to come.
    More,
    /// The whole encoded entry.
    Done(Vec<u8>),
    /// The record is not this entry's next part: the entry is torn.
    Torn,
}

impl Joiner {
    /// Starts joining at a first part (`None` if the part is not a first).
    pub fn start(place: Place, value: &[u8]) -> Result<(Option<Joiner>, Fed), BadRecord> {
        let part = decode_part(value)?;
        if part.part != 0 {
            return Ok((None, Fed::Torn));
        }
        let mut j = Joiner {
            start: place,
            index: part.index,
            parts: part.parts,
            next: 1,
            bytes: part.chunk.to_vec(),
        };
        if j.parts == 1 {
            let bytes = std::mem::take(&mut j.bytes);
            return Ok((Some(j), Fed::Done(bytes)));
        }
        Ok((Some(j), Fed::More))
    }

    /// Feeds the next record of the log to the entry being joined.
    pub fn feed(&mut self, kind: Kind, value: &[u8]) -> Result<Fed, BadRecord> {
        if kind != Kind::EntryPart {
            return Ok(Fed::Torn);
        }
        let part = decode_part(value)?;
        if part.index != self.index || part.parts != self.parts || part.part != self.next {
            return Ok(Fed::Torn);
        }
        self.bytes.extend_from_slice(part.chunk);
        self.next += 1;
        if self.next == self.parts {
            return Ok(Fed::Done(std::mem::take(&mut self.bytes)));
        }
        Ok(Fed::More)
    }
}

/// Reads the encoded bytes of the entries whose first parts are at `wanted`
/// (ascending), one replay from the first of them. Each comes back with
/// its index; an entry not found where it should be is
/// [`Error::Missing`].
pub fn read_at<S: ThreadedStorage>(
    wal: &wal::Wal<S>,
    wanted: &[(u64, Place)],
) -> Result<Vec<(u64, Vec<u8>)>, Error> {
    let Some(first) = wanted.first() else {
        return Ok(Vec::new());
    };
    let mut replay = wal.replay(first.1.frame)?;
    let mut out = Vec::with_capacity(wanted.len());
    let mut next = 0usize;
    let mut joining: Option<Joiner> = None;
    let mut bad = None;
    walk(&mut replay, |rec| {
        if let Some(j) = joining.as_mut() {
            match j.feed(rec.kind, rec.value) {
                Ok(Fed::More) => return Ok(ControlFlow::Continue(())),
                Ok(Fed::Done(bytes)) => {
                    out.push((j.index, bytes));
                    joining = None;
                    next += 1;
                }
                Ok(Fed::Torn) => {
                    bad = Some(Error::Missing { index: j.index });
                    return Ok(ControlFlow::Break(()));
                }
                Err(e) => return Err(Error::corrupt(rec.place.frame, e)),
            }
            if next == wanted.len() {
                return Ok(ControlFlow::Break(()));
            }
            return Ok(ControlFlow::Continue(()));
        }
        if rec.place != wanted[next].1 {
            return Ok(ControlFlow::Continue(()));
        }
        let (j, fed) =
            Joiner::start(rec.place, rec.value).map_err(|e| Error::corrupt(rec.place.frame, e))?;
        match (j, fed) {
            (Some(j), Fed::Done(bytes)) if j.index == wanted[next].0 => {
                out.push((j.index, bytes));
                next += 1;
            }
            (Some(j), Fed::More) if j.index == wanted[next].0 => joining = Some(j),
            _ => {
                bad = Some(Error::Missing {
                    index: wanted[next].0,
                });
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(if next == wanted.len() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    if let Some(e) = bad {
        return Err(e);
    }
    if next < wanted.len() {
        return Err(Error::Missing {
            index: wanted[next].0,
        });
    }
    Ok(out)
}
