//! CRC-32C (Castagnoli), as FORMAT.md specifies it.
//!
//! With the `std` feature on x86 and aarch64 the hardware-accelerated
//! `crc32c` crate computes it (SSE 4.2 / ARMv8 CRC instructions); elsewhere
//! (no `std`, wasm32, other CPUs) the `crc` crate's 16-table software
//! implementation does. Both give the same value; the tests check that
//! they agree.

/// The no_std software implementation (slice-by-16 tables, built at compile time).
static SOFT: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// A running CRC-32C over several slices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Crc32c(u32);

impl Crc32c {
    /// A CRC over no bytes yet.
    pub const fn new() -> Self {
        Crc32c(0)
    }

    /// Extends the CRC with `bytes`.
    #[inline]
    pub fn update(self, bytes: &[u8]) -> Self {
        Crc32c(append(self.0, bytes))
    }

    /// The CRC of everything passed to [`Crc32c::update`].
    pub const fn value(self) -> u32 {
        self.0
    }
}

/// CRC-32C of `bytes`.
#[inline]
pub fn crc32c(bytes: &[u8]) -> u32 {
    append(0, bytes)
}

/// Where the `crc32c` crate has CRC instructions to use.
#[cfg(all(
    feature = "std",
    any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")
))]
#[inline]
fn append(crc: u32, bytes: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, bytes)
}

/// Elsewhere (bare metal, wasm32) the `crc` crate's slice-by-16 tables:
/// under wasmtime 1.9-3.1 GB/s against 1.5-2.0 GB/s for the `crc32c`
/// crate's software fallback (BENCHMARKS.md).
#[cfg(not(all(
    feature = "std",
    any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")
)))]
#[inline]
fn append(crc: u32, bytes: &[u8]) -> u32 {
    software_append(crc, bytes)
}

/// Extends CRC-32C value `crc` with `bytes` on the portable software path
/// (the one used without `std`), whatever the features: for comparing both.
pub fn software_append(crc: u32, bytes: &[u8]) -> u32 {
    // A finished CRC-32C value `c` corresponds to the internal register `!c`
    // (xorout is all ones); `digest_with_initial` bit-reverses its argument
    // for this reflected algorithm, so hand it the reversed register.
    let mut digest = SOFT.digest_with_initial((!crc).reverse_bits());
    digest.update(bytes);
    digest.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_from_the_spec() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(software_append(0, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn incremental_equals_one_shot_and_backends_agree() {
        let data: alloc::vec::Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        for split in [0, 1, 7, 500, 9_999, 10_000] {
            let (a, b) = data.split_at(split);
            let inc = Crc32c::new().update(a).update(b).value();
            assert_eq!(inc, crc32c(&data));
            assert_eq!(software_append(software_append(0, a), b), crc32c(&data));
        }
    }
}
