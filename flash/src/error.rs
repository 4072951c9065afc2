//! `FlashError`: what the flash storage reports.

use core::fmt;

use embedded_storage::nor_flash::NorFlashErrorKind;
use wal_core::{BackendError, ErrorKind};

/// An error of [`crate::FlashStorage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlashError {
    /// The flash driver failed.
    Flash(NorFlashErrorKind),
    /// No free slot for a new file, or a write past a slot's capacity.
    Full,
    /// No such file (or a handle on a file since removed).
    NotFound,
    /// A file of that name exists.
    Exists,
    /// The flash holds no superblock: format it first.
    NotFormatted,
    /// The flash cannot be used this way (block sizes, slot size), or its
    /// superblock records another geometry than the driver's.
    Geometry(&'static str),
    /// What the flash holds contradicts itself (two files of one name).
    Corrupt(&'static str),
}

impl fmt::Display for FlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashError::Flash(k) => write!(f, "flash driver error: {k:?}"),
            FlashError::Full => f.write_str("flash full: no free slot, or past a slot's capacity"),
            FlashError::NotFound => f.write_str("no such file"),
            FlashError::Exists => f.write_str("file already exists"),
            FlashError::NotFormatted => f.write_str("flash not formatted (no superblock)"),
            FlashError::Geometry(why) => write!(f, "unusable flash geometry: {why}"),
            FlashError::Corrupt(why) => write!(f, "flash contents inconsistent: {why}"),
        }
    }
}

impl core::error::Error for FlashError {}

impl embedded_io::Error for FlashError {
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind as K;
        match self {
            FlashError::Full => K::OutOfMemory,
            FlashError::NotFound => K::NotFound,
            FlashError::Exists => K::AlreadyExists,
            FlashError::Geometry(_) => K::InvalidInput,
            FlashError::Flash(_) | FlashError::NotFormatted | FlashError::Corrupt(_) => K::Other,
        }
    }
}

impl BackendError for FlashError {
    fn wal_kind(&self) -> ErrorKind {
        match self {
            FlashError::Full => ErrorKind::StorageFull,
            FlashError::NotFound => ErrorKind::NotFound,
            FlashError::Geometry(_) => ErrorKind::InvalidInput,
            _ => ErrorKind::Io,
        }
    }
}

/// A driver error as a [`FlashError`].
pub(crate) fn driver<E: embedded_storage::nor_flash::NorFlashError>(e: E) -> FlashError {
    FlashError::Flash(e.kind())
}
