//! Damaged directories: `verify` (and `dump`) on a torn tail, a corrupt
//! frame, each kind of bad segment header (as an older and as the newest
//! segment, beside what opening the WAL does), and gaps in segment IDs.

mod support;

use std::fs;

use wal_core::Config;
use wal_host_std::Wal;

use support::*;

#[test]
fn verify_reports_clean_torn_and_corrupt_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let d = dir.to_str().unwrap();
    append_small_segments(d, &input(2000, 5, "v"));
    let clean = wal(&["verify", d], "");
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stdout));
    let report = text(&clean.stdout);
    assert!(
        report.contains("seg0000000000000001.wal: ok,") && report.ends_with("valid\n"),
        "{report}"
    );
    assert!(
        report.contains(" 2000 records") && segs_before(&report) > 1,
        "{report}"
    );

    // Torn tail on the newest segment: exit 2, reported, not repaired.
    let segs: Vec<_> = snapshot(&dir)
        .into_iter()
        .filter(|(n, _)| n.ends_with(".wal"))
        .collect();
    let (newest, bytes) = segs.last().unwrap().clone();
    let mut torn = bytes.clone();
    torn.extend_from_slice(b"\x07torn");
    fs::write(dir.join(&newest), &torn).unwrap();
    let before = snapshot(&dir);
    let out = wal(&["verify", d], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let s = text(&out.stdout);
    assert!(
        s.contains(&format!(
            "TORN {newest}: torn tail at byte offset {} (5 bytes)",
            bytes.len()
        )),
        "{s}"
    );
    assert_eq!(snapshot(&dir), before, "verify changes nothing");
    fs::write(dir.join(&newest), &bytes).unwrap();

    // Damage in an older segment: exit 1 naming segment, offset and reason.
    let (first, mut b) = segs[0].clone();
    b[24 + 40] ^= 0x55;
    fs::write(dir.join(&first), &b).unwrap();
    let out = wal(&["verify", d], "");
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(
        s.contains(&format!(
            "CORRUPT corrupt segment {first} at byte offset 24: frame CRC mismatch"
        )),
        "{s}"
    );
    let dump = wal(&["dump", d], "");
    assert_eq!(dump.status.code(), Some(1));
    assert!(
        text(&dump.stderr).contains("frame CRC mismatch"),
        "{}",
        text(&dump.stderr)
    );
}

/// The header of segment `id` with `f` applied to it, CRC fixed up unless
/// `keep_crc` says to leave the CRC as it was.
fn header_with(id: u64, f: impl Fn(&mut [u8]), fix_crc: bool) -> Vec<u8> {
    let mut h = wal_core::format::header::encode(id).to_vec();
    f(&mut h);
    if fix_crc {
        let crc = wal_core::checksum::crc32c(&h[..20]);
        h[20..24].copy_from_slice(&crc.to_le_bytes());
    }
    h
}

#[test]
fn bad_segment_headers_are_named_by_verify_and_open() {
    type Damage = (&'static str, Box<dyn Fn(u64) -> Vec<u8>>, &'static str);
    let cases: Vec<Damage> = vec![
        (
            "wrong magic",
            Box::new(|id| header_with(id, |h| h[0] = b'X', true)),
            "bad magic",
        ),
        (
            "wrong version",
            Box::new(|id| header_with(id, |h| h[6] = 9, true)),
            "unsupported format version 9",
        ),
        (
            "unknown flags",
            Box::new(|id| header_with(id, |h| h[16] = 1, true)),
            "unknown header flags",
        ),
        (
            "bad header CRC",
            Box::new(|id| header_with(id, |h| h[21] ^= 1, false)),
            "header CRC mismatch",
        ),
        (
            "ID not its name",
            Box::new(|id| header_with(id + 40, |_| {}, true)),
            "does not match the file name",
        ),
        (
            "zero-length segment",
            Box::new(|_| vec![]),
            "file has 0 of 24 bytes",
        ),
    ];
    for (name, make, reason) in &cases {
        // As an older segment: verify exits 1 naming segment, offset 0 and reason.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("w");
        let d = dir.to_str().unwrap();
        let w = Wal::open(&dir, Config::default()).unwrap();
        w.write(1, 1, b"in segment 1").unwrap().wait().unwrap();
        w.rotate().unwrap();
        for i in 0..10 {
            w.write(2, i, b"in segment 2").unwrap();
        }
        w.close().unwrap();
        fs::write(dir.join("seg0000000000000001.wal"), make(1)).unwrap();
        let out = wal(&["verify", d], "");
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stdout));
        let s = text(&out.stdout);
        assert!(
            s.contains("CORRUPT corrupt segment seg0000000000000001.wal at byte offset 0")
                && s.contains(reason),
            "{name}: {s}"
        );
        // The records of the good segment are all still there.
        let dumped = text(&wal(&["dump", d, "--segment", "2", "--format", "jsonl"], "").stdout);
        assert_eq!(dumped.lines().count(), 10, "{name}");

        // As the newest segment: a torn-looking header (magic, CRC, short) is
        // set aside and recreated at open; a whole foreign one is refused.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n");
        let d = dir.to_str().unwrap();
        assert!(wal(&["append", d], &input(10, 2, "y")).status.success());
        let bad = make(2);
        fs::write(dir.join("seg0000000000000002.wal"), &bad).unwrap();
        let torn_like = matches!(
            *name,
            "wrong magic" | "bad header CRC" | "zero-length segment"
        );
        let out = wal(&["verify", d], "");
        assert_eq!(
            out.status.code(),
            Some(if torn_like { 2 } else { 1 }),
            "{name}: {}",
            text(&out.stdout)
        );
        let opened = Wal::open(&dir, Config::default());
        if torn_like {
            let w = opened.unwrap_or_else(|e| panic!("{name}: {e}"));
            if bad.is_empty() {
                // Never written (a crash mid-rotation): started over.
                assert!(w.recovery().restarted, "{name}");
            } else {
                let cut = w.recovery().cut.clone().unwrap();
                assert_eq!(
                    (cut.segment, cut.offset, cut.bytes),
                    (2, 0, bad.len() as u64),
                    "{name}"
                );
            }
            w.close().unwrap();
        } else {
            let e = opened.err().unwrap_or_else(|| panic!("{name}: opened"));
            assert!(
                e.to_string()
                    .contains("seg0000000000000002.wal at byte offset 0"),
                "{name}: {e}"
            );
            assert!(e.to_string().contains(reason), "{name}: {e}");
            assert_eq!(
                fs::read(dir.join("seg0000000000000002.wal")).unwrap(),
                bad,
                "{name}: left untouched"
            );
        }
        let dumped = text(&wal(&["dump", d, "--segment", "1", "--format", "jsonl"], "").stdout);
        assert_eq!(
            dumped.lines().count(),
            10,
            "{name}: the older segment is intact"
        );
    }
}

#[test]
fn gaps_in_segment_ids_are_fine() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let d = dir.to_str().unwrap();
    append_small_segments(d, &input(2000, 4, "g"));
    let segs: Vec<String> = snapshot(&dir)
        .into_iter()
        .map(|f| f.0)
        .filter(|n| n.ends_with(".wal"))
        .collect();
    assert!(segs.len() >= 4);
    fs::remove_file(dir.join(&segs[1])).unwrap();
    fs::remove_file(dir.join(&segs[2])).unwrap();
    let out = wal(&["verify", d], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let w = Wal::open(&dir, Config::default()).unwrap();
    assert_eq!(w.segments().len(), segs.len() - 2);
    w.write(1, 1, b"after the gap").unwrap().wait().unwrap();
    w.close().unwrap();
}

#[test]
fn a_flipped_byte_in_the_newest_segment_is_refused_and_repair_keeps_every_record() {
    // The issue's reproduction: 2,000 records in one segment, byte 2 of its
    // header zeroed. Open used to set every record aside and go on.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let d = dir.to_str().unwrap();
    let records = input(2000, 5, "r");
    let out = wal(&["append", d, "--flush-interval-ms", "0"], &records);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let seg = dir.join("seg0000000000000001.wal");
    let mut bytes = fs::read(&seg).unwrap();
    bytes[2] = 0;
    fs::write(&seg, &bytes).unwrap();
    let before = snapshot(&dir);

    let out = wal(&["append", d], &input(1, 1, "more"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("damaged at byte offset 0") && err.contains("not a torn write"),
        "{err}"
    );
    let out = wal(&["verify", d], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("2000 record(s) follow the damage"));
    assert_eq!(
        snapshot(&dir),
        before,
        "neither append nor verify changed anything"
    );

    let out = wal(&["repair", d], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("kept") && report.contains("2000 record(s)"),
        "{report}"
    );
    let sidecar = dir.join("seg0000000000000001.wal.torn-0");
    assert_eq!(
        fs::read(sidecar).unwrap(),
        bytes,
        "every damaged byte is kept aside"
    );
    let dumped = wal(&["dump", d, "--format", "jsonl"], "");
    assert_eq!(dumped.status.code(), Some(0));
    assert_eq!(per_series(&text(&dumped.stdout)), per_series(&records));
    let out = wal(&["repair", d], "");
    assert!(
        text(&out.stdout).contains("nothing to repair"),
        "{}",
        text(&out.stdout)
    );
}
