//! Frame payload compression: the identity codec and snappy (the `snap`
//! crate's raw block format, behind the `snappy` feature).
//!
//! A frame is stored snappy-compressed only when that saves at least an
//! eighth of its payload (LevelDB's rule); otherwise it is stored raw, and
//! the compressor stops trying for a while: after a frame that did not
//! compress it stores the next 1, then 2, 4, ... up to 64 frames raw without
//! trying, and starts over after one that did. Incompressible data (random
//! or already-compressed values) then costs almost no CPU, and readers do not
//! pay snappy's decoder for a few percent. The choice depends only on the
//! sequence of frames, so the same writes give the same bytes on every host.

use alloc::vec::Vec;

#[cfg(feature = "snappy")]
use crate::format::frame;
use crate::format::Corruption;

/// Compresses frame payloads. One per log, so that scratch tables are reused.
pub struct Compressor {
    #[cfg(feature = "snappy")]
    encoder: snap::raw::Encoder,
    /// Frames still to store raw without trying.
    #[cfg(feature = "snappy")]
    skip: u32,
    /// How many to skip after the next frame that does not compress.
    #[cfg(feature = "snappy")]
    backoff: u32,
}

/// The longest run of frames stored raw without trying snappy.
#[cfg(feature = "snappy")]
const MAX_BACKOFF: u32 = 64;

impl core::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Compressor")
    }
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    /// A compressor with fresh scratch space.
    pub fn new() -> Self {
        Compressor {
            #[cfg(feature = "snappy")]
            encoder: snap::raw::Encoder::new(),
            #[cfg(feature = "snappy")]
            skip: 0,
            #[cfg(feature = "snappy")]
            backoff: 1,
        }
    }

    /// Whether this build can write and read snappy frames.
    pub const fn snappy_available() -> bool {
        cfg!(feature = "snappy")
    }

    /// Given `raw`, a frame (16 header bytes, then the entries), tries to
    /// compress its payload into `scratch` (laid out the same way). Returns
    /// `Some(len)` when `scratch[..len]` now holds a frame whose payload is
    /// at least an eighth smaller (to be stored as [`Codec::Snappy`](crate::format::Codec::Snappy)),
    /// `None` when `raw` should be written as it is ([`Codec::Raw`](crate::format::Codec::Raw)).
    /// `scratch` keeps its length from call to call, so it is not zeroed
    /// again for every frame.
    pub fn compress(&mut self, raw: &[u8], scratch: &mut Vec<u8>) -> Option<usize> {
        #[cfg(feature = "snappy")]
        {
            if self.skip > 0 {
                self.skip -= 1;
                return None;
            }
            let payload = &raw[frame::HEADER_LEN..];
            let max = snap::raw::max_compress_len(payload.len());
            if max == 0 {
                return None; // too large for snappy's block format
            }
            if scratch.len() < frame::HEADER_LEN + max {
                scratch.resize(frame::HEADER_LEN + max, 0);
            }
            match self.encoder.compress(
                payload,
                &mut scratch[frame::HEADER_LEN..frame::HEADER_LEN + max],
            ) {
                Ok(n) if n <= payload.len() - payload.len() / 8 => {
                    self.backoff = 1;
                    Some(frame::HEADER_LEN + n)
                }
                _ => {
                    self.skip = self.backoff;
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    None
                }
            }
        }
        #[cfg(not(feature = "snappy"))]
        {
            let _ = (raw, scratch);
            None
        }
    }
}

/// Largest decompressed payload accepted from a snappy frame, as a multiple
/// of its stored length. Snappy's densest element (a 3-byte copy of 64
/// bytes) expands about 21x, so a larger claim is corrupt; checking it keeps
/// a bad length field from sizing an allocation.
#[cfg(feature = "snappy")]
const MAX_SNAPPY_EXPANSION: u64 = 24;

/// Decompresses a snappy payload into the front of `out`, growing `out`
/// only when it is too small (so a reused buffer is not zeroed again), and
/// returns the decompressed length. A claimed length over `max`, or over 24
/// times the stored one, is refused before anything is allocated.
pub fn decompress_into(stored: &[u8], out: &mut Vec<u8>, max: u64) -> Result<usize, Corruption> {
    #[cfg(feature = "snappy")]
    {
        let n = snap::raw::decompress_len(stored).map_err(|_| Corruption::SnappyInvalid)?;
        if n as u64 > max {
            return Err(Corruption::FrameTooLong { len: n as u64, max });
        }
        if n as u64 > MAX_SNAPPY_EXPANSION * stored.len() as u64 + 64 {
            return Err(Corruption::SnappyInvalid);
        }
        if out.len() < n {
            out.resize(n, 0);
        }
        let written = snap::raw::Decoder::new()
            .decompress(stored, &mut out[..n])
            .map_err(|_| Corruption::SnappyInvalid)?;
        if written != n {
            return Err(Corruption::SnappyInvalid);
        }
        Ok(n)
    }
    #[cfg(not(feature = "snappy"))]
    {
        let _ = (stored, out, max);
        Err(Corruption::SnappyUnavailable)
    }
}
