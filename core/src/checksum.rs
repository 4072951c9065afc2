//! CRC-32C (Castagnoli), as FORMAT.md specifies it.
//!
//! With the `std` feature on x86 and aarch64 the hardware-accelerated
//! `crc32c` crate computes it (SSE 4.2 / ARMv8 CRC instructions); elsewhere
//! (no `std`, wasm32, other CPUs) a slice-by-16 table implementation here
//! does. Both give the same value; the tests check that they agree, and
//! with the `crc` crate's.

/// The reflected CRC-32C polynomial.
const POLY: u32 = 0x82F6_3B78;

/// Slice-by-16 tables, built at compile time: `TABLES[0]` feeds one byte
/// through the register, `TABLES[k]` one byte followed by `k` zero bytes.
static TABLES: [[u32; 256]; 16] = tables();

const fn tables() -> [[u32; 256]; 16] {
    let mut t = [[0u32; 256]; 16];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            bit += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 16 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

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

/// Elsewhere (bare metal, wasm32) the slice-by-16 tables
/// ([`software_append`]).
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
///
/// Slice-by-16: per 16 bytes, the first four (XORed with the register) and
/// the other twelve (read as bytes, with no shifts) index one table each,
/// sixteen independent loads. Under wasmtime this ran at 1.5x the `crc`
/// crate's `Table<16>` (about 2 GB/s against 1.3 on this machine), the
/// frames' CRC being the guest's largest cost after parsing (BENCHMARKS.md).
pub fn software_append(crc: u32, bytes: &[u8]) -> u32 {
    let t = &TABLES;
    let mut c = !crc;
    let mut chunks = bytes.chunks_exact(16);
    for b in &mut chunks {
        let a = c ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        c = t[15][(a & 0xff) as usize]
            ^ t[14][((a >> 8) & 0xff) as usize]
            ^ t[13][((a >> 16) & 0xff) as usize]
            ^ t[12][(a >> 24) as usize]
            ^ t[11][b[4] as usize]
            ^ t[10][b[5] as usize]
            ^ t[9][b[6] as usize]
            ^ t[8][b[7] as usize]
            ^ t[7][b[8] as usize]
            ^ t[6][b[9] as usize]
            ^ t[5][b[10] as usize]
            ^ t[4][b[11] as usize]
            ^ t[3][b[12] as usize]
            ^ t[2][b[13] as usize]
            ^ t[1][b[14] as usize]
            ^ t[0][b[15] as usize];
    }
    for &b in chunks.remainder() {
        c = (c >> 8) ^ t[0][((c ^ b as u32) & 0xff) as usize];
    }
    !c
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

    #[test]
    fn software_path_equals_the_crc_crate_at_every_length_and_start() {
        static CRATE: crc::Crc<u32, crc::Table<16>> =
            crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);
        let data: alloc::vec::Vec<u8> = (0..300u32).map(|i| (i * 7919 % 256) as u8).collect();
        for start in [0u32, 1, 0xFFFF_FFFF, 0xE306_9283] {
            for len in 0..data.len() {
                let mut d = CRATE.digest_with_initial((!start).reverse_bits());
                d.update(&data[..len]);
                assert_eq!(
                    software_append(start, &data[..len]),
                    d.finalize(),
                    "{start:#x} {len}"
                );
            }
        }
    }
}
