//! `wal-bench`: our WAL against okaywal, raft-engine, the raw disk and the
//! `snap` crate, every baseline measured in the same process and run.
//!
//! ```text
//! cargo run --release -p wal-bench -- [--quick] [--json FILE] [--only NAME,...]
//! ```
//!
//! Prints one table row per workload and system, then the ratios of ours to
//! each baseline next to the targets. `--quick` finishes in about a minute
//! on 2 cores; the full mode is what BENCHMARKS.md reports. Temporary files
//! go to `$WAL_BENCH_DIR` (default: the system temporary directory).

mod baselines;
mod measure;
mod records;
mod row;
mod verdicts;
mod workloads;

use row::{Paired, Row};

/// A workload: runs (quick or full) and returns its rows.
type Workload = fn(bool) -> Vec<Row>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let json = args
        .iter()
        .position(|a| a == "--json")
        .map(|i| args.get(i + 1).cloned().expect("--json FILE"));
    let only: Option<Vec<String>> = args.iter().position(|a| a == "--only").map(|i| {
        args.get(i + 1)
            .expect("--only NAME,...")
            .split(',')
            .map(String::from)
            .collect()
    });
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: wal-bench [--quick] [--json FILE] [--only memory,cpu,replay,open,ingest,durable-small,wasi,admin,tail,retention,rotation,recycle[,raft]] (raft: with --features raft, after `cargo build --release -p wal-raft --example raft-kv`)");
        return;
    }
    // Memory first, while the process heap is fresh (peak RSS is per
    // process; later workloads' baselines leave allocations behind).
    #[allow(unused_mut)]
    let mut all: Vec<(&str, Workload)> = vec![
        ("memory", workloads::memory),
        ("cpu", workloads::cpu),
        ("replay", workloads::replay),
        ("open", workloads::open),
        ("ingest", workloads::ingest),
        ("durable-small", workloads::durable_small),
        ("wasi", workloads::wasi),
        ("admin", workloads::admin),
        ("tail", workloads::tail),
        ("retention", workloads::retention),
        ("rotation", workloads::rotation),
        ("recycle", workloads::recycle),
    ];
    #[cfg(feature = "raft")]
    all.push(("raft", workloads::raft));
    if let Some(o) = &only {
        if let Some(bad) = o.iter().find(|x| !all.iter().any(|(n, _)| n == x)) {
            eprintln!("--only: no workload named {bad:?}");
            std::process::exit(2);
        }
    }
    let mut rows = vec![];
    for (name, run) in all {
        if only.as_ref().is_some_and(|o| !o.iter().any(|x| x == name)) {
            continue;
        }
        eprintln!("running {name}{}...", if quick { " (quick)" } else { "" });
        let t = std::time::Instant::now();
        let r = run(quick);
        eprintln!("  {name} took {:.1} s", t.elapsed().as_secs_f64());
        rows.extend(r);
    }
    print_table(&rows);
    print_ratios(&rows);
    if let Some(path) = json {
        let v = serde_json::json!({ "quick": quick, "workloads": rows.iter().map(Row::json).collect::<Vec<_>>() });
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap())
            .expect("write the JSON file");
        eprintln!("wrote {path}");
    }
}

fn f(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "| workload | variant | system | threads | records/s | payload MB/s | disk MB/s | fsyncs/s | p50 us | p99 us | peak RSS MB | note |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.variant,
            r.system,
            r.threads.map_or("-".into(), |t| t.to_string()),
            f(r.records_per_s),
            f(r.payload_mb_per_s),
            f(r.disk_mb_per_s),
            f(r.fsyncs_per_s),
            f(r.p50_us),
            f(r.p99_us),
            f(r.peak_rss_mb),
            r.note
        );
    }
}

fn find<'a>(rows: &'a [Row], name: &str, variant: &str, system: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.name == name && r.variant == variant && r.system == system)
}

fn ratio_line(
    what: &str,
    ours: Option<f64>,
    base: Option<f64>,
    target: f64,
    higher_is_better: bool,
) {
    let (Some(o), Some(b)) = (ours, base) else {
        return;
    };
    let x = o / b;
    let ok = if higher_is_better {
        x >= target
    } else {
        x <= target
    };
    let cmp = if higher_is_better { ">=" } else { "<=" };
    println!(
        "- {what}: {x:.2}x (target {cmp} {target}) {}",
        if ok { "MET" } else { "MISSED" }
    );
}

/// A target on the median of ratios measured side by side, round by round.
fn paired_line(what: &str, p: &Paired, medians: Option<f64>, target: f64) {
    let x = p.median();
    let mut sorted = p.ratios.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rows = medians.map_or(String::new(), |m| {
        format!("; the rows' medians give {m:.2}x")
    });
    println!(
        "- {what}, round by round: median {x:.2}x ({:.2} to {:.2} over {} rounds{rows}) (target >= {target}) {}",
        sorted[0],
        sorted[sorted.len() - 1],
        sorted.len(),
        if x >= target { "MET" } else { "MISSED" }
    );
}

/// "No slower" judged slice by slice: missed only when ours won so few of
/// the slices that two equally fast systems would do so with a chance
/// under 5% (a one-sided sign test).
fn no_slower_line(what: &str, p: &Paired, rows: Option<(f64, f64)>) {
    let (wins, losses) = p.wins_losses();
    let chance = p.p_slower();
    let medians = rows.map_or(String::new(), |(o, b)| format!("{:.2}x; ", o / b));
    println!(
        "- {what}: {medians}median slice {:.2}x, ours faster in {wins} and slower in {losses} of {} slices; chance of so few wins between equals {chance:.2} (target: no slower, sign test p >= 0.05) {}",
        p.median(),
        p.ratios.len(),
        if chance >= 0.05 { "MET" } else { "MISSED" }
    );
}

fn print_ratios(rows: &[Row]) {
    println!("\nRatios, ours to each baseline, measured in this run:");
    for buffer in ["64 KiB", "1 MiB"] {
        let v = format!("buffer {buffer}");
        if let Some(w) = find(rows, "ingest", &v, "wal") {
            for b in ["append", "overwrite"] {
                let raw = find(rows, "ingest", &format!("{v}, {b}"), "raw-disk");
                let what = format!("ingest {buffer}: disk MB/s vs raw disk ({b})");
                match (&w.paired, b) {
                    (Some(p), "append") => {
                        let medians = w.disk_mb_per_s.zip(raw.and_then(|r| r.disk_mb_per_s));
                        paired_line(&what, p, medians.map(|(o, b)| o / b), 0.9);
                    }
                    _ => ratio_line(
                        &what,
                        w.disk_mb_per_s,
                        raw.and_then(|r| r.disk_mb_per_s),
                        0.0,
                        true,
                    ),
                }
            }
            if let (Some(stall), Some(idle), Some(sync)) =
                (w.max_stall_ms, w.max_idle_ms, w.max_sync_ms)
            {
                println!(
                    "- ingest {buffer}: longest disk idle {idle:.2} ms vs longest sync {sync:.2} ms (target: no stall longer than one sync) {}",
                    if idle <= sync { "MET" } else { "MISSED" }
                );
                println!(
                    "- ingest {buffer}: longest write call {stall:.2} ms vs longest sync {sync:.2} ms: {:.2}x (writer held for one frame's encode, write and sync)",
                    stall / sync
                );
            }
            for sys in ["okaywal", "raft-engine"] {
                let b = find(rows, "ingest", &v, sys);
                ratio_line(
                    &format!("ingest {buffer}: records/s vs {sys}"),
                    w.records_per_s,
                    b.and_then(|r| r.records_per_s),
                    0.0,
                    true,
                );
            }
        }
    }
    for threads in [1, 8, 64] {
        let v = format!("{threads} threads");
        if let Some(w) = find(rows, "durable-small", &v, "wal") {
            let ok = find(rows, "durable-small", &v, "okaywal").and_then(|r| r.records_per_s);
            let target = if threads == 64 {
                2.0
            } else if threads == 1 {
                1.0
            } else {
                0.0
            };
            let what = format!("durable-small {threads} threads: records/s vs okaywal");
            match &w.paired {
                // Both at the disk's sync rate: "no slower" is a question
                // of noise, so the slices decide it.
                Some(p) if threads == 1 => no_slower_line(&what, p, w.records_per_s.zip(ok)),
                _ => ratio_line(&what, w.records_per_s, ok, target, true),
            }
            let re = find(rows, "durable-small", &v, "raft-engine").and_then(|r| r.records_per_s);
            ratio_line(
                &format!("durable-small {threads} threads: records/s vs raft-engine"),
                w.records_per_s,
                re,
                0.0,
                true,
            );
            let raw = find(rows, "durable-small", &format!("{v}, append"), "raw-disk")
                .and_then(|r| r.records_per_s);
            ratio_line(
                &format!("durable-small {threads} threads: records/s vs raw fdatasync x batch"),
                w.records_per_s,
                raw,
                0.9,
                true,
            );
        }
    }
    if let Some(w) = find(rows, "cpu", "raw, no callbacks", "wal") {
        println!(
            "- cpu raw, no callbacks: {:.1} M records/s (target >= 10 M) {}",
            w.records_per_s.unwrap() / 1e6,
            if w.records_per_s.unwrap() >= 1e7 {
                "MET"
            } else {
                "MISSED"
            }
        );
    }
    if let (Some(w), Some(s)) = (
        find(rows, "cpu", "snappy, no callbacks", "wal"),
        find(rows, "cpu", "snappy compress only", "snap"),
    ) {
        ratio_line(
            "cpu snappy: records/s vs snap compressing the same frames",
            w.records_per_s,
            s.records_per_s,
            0.7,
            true,
        );
    }
    verdicts::replay(rows);
    workloads::recycle_verdicts(rows);
    #[cfg(feature = "raft")]
    workloads::raft_verdicts(rows);
    for r in rows.iter().filter(|r| r.name == "open") {
        let ms = r.p50_us.unwrap() / 1000.0;
        println!(
            "- open {}: {ms:.1} ms median (target < 50 ms) {}",
            r.variant,
            if ms < 50.0 { "MET" } else { "MISSED" }
        );
    }
    let v = "8 threads, with a reader";
    if let Some(p) = find(rows, "admin", v, "wal").and_then(|r| r.paired.as_ref()) {
        let alone = find(rows, "admin", "8 threads, writers alone", "wal");
        let medians = find(rows, "admin", v, "wal")
            .and_then(|r| r.records_per_s)
            .zip(alone.and_then(|r| r.records_per_s))
            .map(|(w, a)| w / a);
        paired_line(
            "admin: durable writers' records/s with a reader (info + read of closed segments) vs alone",
            p,
            medians,
            0.9,
        );
    }
    let mem: Vec<&Row> = rows.iter().filter(|r| r.name == "memory").collect();
    if mem.len() == 2 {
        ratio_line(
            "memory: peak RSS, bigger run vs smaller run",
            mem[1].peak_rss_mb,
            mem[0].peak_rss_mb,
            1.1,
            false,
        );
    }
    if let Some(s) = find(rows, "wasi", "append, guest code natively", "wal") {
        for (variant, runtime, target) in [
            ("append, wasmtime", "wasmtime (preview 1)", 1.15),
            ("append, wasmtime preview 2", "wasmtime (preview 2)", 1.15),
            ("append, node", "Node's WASI (preview 1)", 2.0),
        ] {
            if let Some(w) = find(rows, "wasi", variant, "wal") {
                ratio_line(
                    &format!("wasi: time under {runtime} vs the same program natively"),
                    s.records_per_s,
                    w.records_per_s,
                    target,
                    false,
                );
            }
        }
    }
    if let (Some(n), Some(w)) = (
        find(rows, "wasi", "append, native", "wal"),
        find(rows, "wasi", "append, wasmtime", "wal"),
    ) {
        ratio_line(
            "wasi: time under wasmtime vs the native tool (thread-safe WAL)",
            n.records_per_s,
            w.records_per_s,
            1.5,
            false,
        );
    }
    verdicts::tail(rows);
    verdicts::retention(rows);
    verdicts::rotation(rows);
}
