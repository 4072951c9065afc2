//! Three `raft-kv` processes on loopback (the release build of the
//! example, beside this binary: `cargo build --release -p wal-raft
//! --example raft-kv`), each with its log in the WAL, synced; 1 and 64
//! concurrent clients PUT for a fixed time to the leader, each waiting
//! for its 200 (committed on a majority and applied) before the next.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::measure::{percentile_us, settle};
use crate::row::Row;
use crate::workloads::tmp;

/// The example binary: `target/release/examples/raft-kv`.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench's path");
    let bin = exe
        .parent()
        .expect("target/release")
        .join("examples")
        .join("raft-kv");
    if !bin.exists() {
        eprintln!(
            "{} is missing: build it first with `cargo build --release -p wal-raft --example raft-kv`",
            bin.display()
        );
        std::process::exit(2);
    }
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The three processes, killed on drop.
struct Cluster {
    children: Vec<Child>,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tmp();
        let bin = binary();
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let children = (0..3)
            .map(|i| {
                let mut cmd = Command::new(&bin);
                cmd.arg("--id")
                    .arg((i + 1).to_string())
                    .arg("--dir")
                    .arg(dir.path().join(format!("n{}", i + 1)))
                    .arg("--listen")
                    .arg(format!("127.0.0.1:{}", ports[i]));
                for (j, p) in ports.iter().enumerate() {
                    if j != i {
                        cmd.arg("--peer").arg(format!("{}=127.0.0.1:{p}", j + 1));
                    }
                }
                if i == 0 {
                    cmd.arg("--init");
                }
                cmd.stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start raft-kv")
            })
            .collect();
        Cluster {
            children,
            ports,
            _dir: dir,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The leader's port, once every node names the same leader (a minute at
/// most).
async fn leader(http: &reqwest::Client, c: &Cluster) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut seen = vec![];
        for p in &c.ports {
            let s = async {
                let r = http
                    .get(format!("http://127.0.0.1:{p}/status"))
                    .send()
                    .await
                    .ok()?;
                let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.ok()?).ok()?;
                v["leader"].as_u64()
            };
            seen.push(s.await);
        }
        if let Some(Some(l)) = seen.first() {
            if seen.iter().all(|s| *s == Some(*l)) {
                return c.ports[*l as usize - 1];
            }
        }
        assert!(
            Instant::now() < deadline,
            "raft-kv: no leader within a minute"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `clients` tasks PUT to `port` for `secs`: the writes answered 200 and
/// each one's latency.
async fn load(http: &reqwest::Client, port: u16, clients: usize, secs: f64) -> (usize, Vec<u64>) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = vec![];
    for c in 0..clients {
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            let value = vec![b'v'; 256];
            let mut i = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                let r = http
                    .put(format!("http://127.0.0.1:{port}/kv/c{c}-{i}"))
                    .body(value.clone())
                    .send()
                    .await
                    .expect("a PUT to the leader");
                assert_eq!(r.status(), 200, "a PUT to the leader failed");
                lat.push(t.elapsed().as_nanos() as u64);
                i += 1;
            }
            lat
        }));
    }
    let mut lat = vec![];
    for t in tasks {
        lat.extend(t.await.expect("a client task"));
    }
    (lat.len(), lat)
}

/// Committed writes/s with 1 and 64 clients, on one fresh cluster.
pub fn cluster(quick: bool) -> Vec<Row> {
    let secs = if quick { 3.0 } else { 15.0 };
    settle();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let c = Cluster::start();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(128)
        .build()
        .expect("an HTTP client");
    rt.block_on(async {
        let port = leader(&http, &c).await;
        // Warm up: connections, the first snapshot's file.
        load(&http, port, 4, 1.0).await;
        let mut rows = vec![];
        for clients in [1, 64] {
            let t = Instant::now();
            let (n, mut lat) = load(&http, port, clients, secs).await;
            let took = t.elapsed().as_secs_f64();
            let mut r = Row::new("raft", format!("3-node cluster, {clients} clients"), "raft-kv");
            r.threads = Some(clients as u64);
            r.records_per_s = Some(n as f64 / took);
            r.payload_mb_per_s = Some(n as f64 * 256.0 / took / 1e6);
            r.p50_us = percentile_us(&mut lat, 50.0);
            r.p99_us = percentile_us(&mut lat, 99.0);
            r.note = format!(
                "PUTs of 256 bytes to the leader for {secs:.0} s, each answered 200 once committed and applied; 3 processes on 2 cores, logs synced"
            );
            rows.push(r);
        }
        rows
    })
}
