//! Result rows, and ratios of ours to a baseline measured side by side
//! (with the sign test that judges "no slower").

/// One result: a workload run by one system.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub name: String,
    /// Variant (buffer size, thread count, compression...) for the table.
    pub variant: String,
    pub system: &'static str,
    pub threads: Option<u64>,
    pub records_per_s: Option<f64>,
    pub payload_mb_per_s: Option<f64>,
    pub disk_mb_per_s: Option<f64>,
    pub fsyncs_per_s: Option<f64>,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    /// Ingest: the longest a writer spent inside one write call.
    pub max_stall_ms: Option<f64>,
    /// Ingest: the longest the disk sat idle between a sync and the next write.
    pub max_idle_ms: Option<f64>,
    /// Ingest: the longest single sync in the same run.
    pub max_sync_ms: Option<f64>,
    /// Anything else worth printing (open time, achieved batch, ...).
    pub note: String,
    /// Named figures a workload's verdict needs beyond the columns above
    /// (tail latency's max, retention's bytes held, rotation gaps...), in
    /// the JSON as `figures` when there are any.
    pub figures: Vec<(&'static str, f64)>,
    /// Ours against one baseline measured side by side: the ratio (ours to
    /// it, higher is better for ours) round by round or slice by slice.
    pub paired: Option<Paired>,
}

/// Ratios of ours to one baseline, each from a round (or slice) in which
/// both ran back to back, so that a slow spell of the machine moves both.
#[derive(Debug, Clone, Default)]
pub struct Paired {
    /// The baseline's system and variant, as in its row.
    pub against: String,
    /// Ours to it, one ratio per round or slice, in the order measured.
    pub ratios: Vec<f64>,
}

impl Paired {
    /// The median ratio.
    pub fn median(&self) -> f64 {
        let mut r = self.ratios.clone();
        r.sort_by(|a, b| a.total_cmp(b));
        r[r.len() / 2]
    }

    /// Rounds in which ours was faster, and those in which it was slower
    /// (ties counted in neither).
    pub fn wins_losses(&self) -> (usize, usize) {
        let wins = self.ratios.iter().filter(|r| **r > 1.0).count();
        let losses = self.ratios.iter().filter(|r| **r < 1.0).count();
        (wins, losses)
    }

    /// One-sided sign test: the chance of ours winning at most this few of
    /// its non-tied pairs if the two systems were equally fast (each pair a
    /// coin toss). A small value means ours is really slower, not unlucky.
    pub fn p_slower(&self) -> f64 {
        let (wins, losses) = self.wins_losses();
        let n = wins + losses;
        // P(X <= wins) for X ~ Binomial(n, 1/2), summed term by term:
        // C(n, k + 1) = C(n, k) (n - k) / (k + 1).
        let (mut term, mut sum) = (0.5f64.powi(n as i32), 0.0);
        for k in 0..=wins {
            sum += term;
            term *= (n - k) as f64 / (k + 1) as f64;
        }
        sum.min(1.0)
    }
}

impl Row {
    pub fn new(name: &str, variant: impl Into<String>, system: &'static str) -> Self {
        Row {
            name: name.into(),
            variant: variant.into(),
            system,
            ..Default::default()
        }
    }

    pub fn json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "name": self.name, "variant": self.variant, "system": self.system, "threads": self.threads,
            "records_per_s": self.records_per_s, "payload_mb_per_s": self.payload_mb_per_s,
            "disk_mb_per_s": self.disk_mb_per_s, "fsyncs_per_s": self.fsyncs_per_s,
            "p50_us": self.p50_us, "p99_us": self.p99_us, "peak_rss_mb": self.peak_rss_mb,
            "max_stall_ms": self.max_stall_ms, "max_idle_ms": self.max_idle_ms, "max_sync_ms": self.max_sync_ms, "note": self.note,
            "paired": self.paired.as_ref().map(|p| serde_json::json!({"against": p.against, "ratios": p.ratios})),
        });
        if !self.figures.is_empty() {
            let figures: serde_json::Map<String, serde_json::Value> = self
                .figures
                .iter()
                .map(|(k, x)| (k.to_string(), serde_json::json!(x)))
                .collect();
            v["figures"] = serde_json::Value::Object(figures);
        }
        v
    }

    /// The named figure `key`, if the workload set it.
    pub fn figure(&self, key: &str) -> Option<f64> {
        self.figures
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, x)| *x)
    }
}

#[cfg(test)]
mod tests {
    use super::Paired;

    fn paired(ratios: &[f64]) -> Paired {
        Paired {
            against: "x".into(),
            ratios: ratios.to_vec(),
        }
    }

    #[test]
    fn sign_test_matches_the_binomial_tail() {
        // No wins in 10: 1/1024. Five of 10: 638/1024. Two of 10: 56/1024.
        let p = |wins: usize, n: usize| {
            let r: Vec<f64> = (0..n).map(|i| if i < wins { 1.1 } else { 0.9 }).collect();
            paired(&r).p_slower()
        };
        assert!((p(0, 10) - 1.0 / 1024.0).abs() < 1e-12);
        assert!((p(5, 10) - 638.0 / 1024.0).abs() < 1e-12);
        assert!((p(2, 10) - 56.0 / 1024.0).abs() < 1e-12);
        assert_eq!(p(10, 10), 1.0);
        // 13 wins of 40 is significant at 5%, 15 is not.
        assert!(p(13, 40) < 0.05 && p(15, 40) > 0.05);
    }

    #[test]
    fn ties_count_for_neither_side() {
        let p = paired(&[1.0, 1.0, 0.9, 1.2, 1.0]);
        assert_eq!(p.wins_losses(), (1, 1));
        assert_eq!(p.median(), 1.0);
        assert_eq!(paired(&[1.0, 1.0]).p_slower(), 1.0);
    }
}
