//! `wal append` killed with SIGKILL at random moments: after each kill,
//! every record it reported `durable` is present exactly once, in order,
//! and the reopened WAL accepts writes.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wal_core::Config;
use wal_host_std::Wal;

use support::*;

/// A tiny deterministic random source for kill timing.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_reported_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let d = dir.to_str().unwrap().to_string();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Every record ever reported durable: (series, timestamp, value).
    let mut acked: Vec<(u64, i64, Vec<u8>)> = vec![];
    let rounds = 24;
    let mut killed_mid_write = 0;
    for round in 0..rounds {
        let mut child = Command::new(WAL)
            .args([
                "append",
                &d,
                "--buffer-size",
                "2048",
                "--file-size",
                "65536",
                "--flush-interval-ms",
                "2",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let records: Vec<(u64, i64, Vec<u8>)> = (0..200_000u64)
            .map(|i| {
                (
                    i % 13,
                    (round * 1_000_000 + i) as i64,
                    format!("round {round} record {i}").into_bytes(),
                )
            })
            .collect();
        let feed = records.clone();
        let writer = std::thread::spawn(move || {
            for (s, t, v) in feed {
                if stdin.write_all(line(s, t, &v).as_bytes()).is_err() {
                    return; // the child is gone
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { return };
                if let Some((n, _)) = durable_line(&l) {
                    tx.send(n as usize).unwrap();
                }
            }
        });
        let delay = Duration::from_millis(20 + rng.next() % 150);
        let start = Instant::now();
        let mut durable = 0;
        while start.elapsed() < delay {
            if let Ok(n) = rx.recv_timeout(Duration::from_millis(1)) {
                durable = durable.max(n);
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let _ = writer.join();
        reader.join().unwrap();
        // Only what was read before the kill counts as reported.
        while let Ok(n) = rx.try_recv() {
            durable = durable.max(n);
        }
        if durable < records.len() {
            killed_mid_write += 1;
        }
        acked.extend(records.into_iter().take(durable));

        // Reopen: everything reported durable is there, exactly once, in order.
        let wal = Wal::open(&dir, Config::default()).unwrap();
        let mut found: Vec<(u64, i64, Vec<u8>)> = vec![];
        for id in wal.segments() {
            for e in wal.read(id).unwrap() {
                let e = e.unwrap();
                for (t, v) in e.timestamps.iter().zip(e.values) {
                    found.push((e.series_id, *t, v));
                }
            }
        }
        let found_set: HashSet<_> = found.iter().cloned().collect();
        assert_eq!(
            found_set.len(),
            found.len(),
            "round {round}: no record twice"
        );
        let lost: Vec<_> = acked.iter().filter(|r| !found_set.contains(*r)).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} acknowledged records lost, first {:?}",
            lost.len(),
            lost[0]
        );
        let mut last_ts: BTreeMap<u64, i64> = BTreeMap::new();
        for (s, t, _) in &found {
            let prev = last_ts.insert(*s, *t);
            assert!(
                prev.is_none_or(|p| p < *t),
                "round {round}: series {s} out of order"
            );
        }
        // And the reopened WAL accepts more writes.
        wal.write(999, round as i64, b"after the kill")
            .unwrap()
            .wait()
            .unwrap();
        acked.push((999, round as i64, b"after the kill".to_vec()));
        wal.close().unwrap();
    }
    assert!(
        killed_mid_write >= rounds / 2,
        "most kills landed mid-run ({killed_mid_write} of {rounds})"
    );
    assert!(
        acked.len() > 1000,
        "the rounds reported durable records ({})",
        acked.len()
    );
}
