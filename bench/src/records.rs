//! The workloads' records: deterministic random numbers and BanyanDB's
//! ingest records, generated on the fly.

/// Deterministic random numbers (xorshift64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// BanyanDB's benchmark records, generated on the fly (so that the input
/// does not count in the peak RSS): 1000 series, values of 200 to 1023
/// random alphanumeric bytes.
pub struct IngestGen {
    rng: Rng,
    pool: Vec<u8>,
}

impl IngestGen {
    pub fn new(seed: u64) -> Self {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = Rng(seed | 1);
        // Values are windows of a 64 KiB random alphanumeric pool.
        let pool = (0..65_536)
            .map(|_| ALNUM[(rng.next() % 62) as usize])
            .collect();
        IngestGen { rng, pool }
    }

    /// The next record: (series, value).
    pub fn next_record(&mut self) -> (u64, &[u8]) {
        let (series, at, len) = self.next_span();
        (series, &self.pool[at..at + len])
    }

    /// The next record as (series, where its value starts in the pool, its
    /// length).
    fn next_span(&mut self) -> (u64, usize, usize) {
        let len = 200 + (self.rng.next() % 824) as usize;
        let at = (self.rng.next() as usize) % (self.pool.len() - len);
        let series = self.rng.next() % 1000;
        (series, at, len)
    }

    /// The next `n` records, their values borrowed from the pool: one
    /// allocation (not one per value, which the allocator would keep in
    /// the process's RSS after they are freed, and the next run's peak RSS
    /// with it).
    pub fn take(&mut self, n: usize) -> Vec<(u64, &[u8])> {
        let spans: Vec<_> = (0..n).map(|_| self.next_span()).collect();
        spans
            .into_iter()
            .map(|(s, at, len)| (s, &self.pool[at..at + len]))
            .collect()
    }
}

/// Records of the ingest workload in `bytes` of values (about 611 bytes each).
pub fn ingest_count(bytes: u64) -> usize {
    (bytes / 611) as usize
}
