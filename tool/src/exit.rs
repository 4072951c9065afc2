//! The tool's exit codes (besides 0, success).

/// Exit code: an error (a bad input line, corruption, I/O).
pub const EXIT_ERROR: i32 = 1;
/// Exit code: a torn tail on the newest segment (`verify`, `dump`, `stats`:
/// reported, not repaired).
pub const EXIT_TORN: i32 = 2;
/// Exit code: usage error.
pub const EXIT_USAGE: i32 = 64;
