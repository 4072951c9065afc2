//! Three `raft-kv` processes on loopback: writes through every node, the
//! leader SIGKILLed six times (each time: writes go on until a new leader
//! commits one, the killed node restarts from its directory and catches
//! up), then every write that got a 200 is read back from every node.
//! Bounded in time: every wait has a deadline that fails the test.

mod within;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use within::within;

const KILLS: usize = 6;
const WRITERS: usize = 4;
const WRITES_PER_WRITER: usize = 8;

/// The example binary, which `cargo test` builds beside the test.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/debug");
    let bin = dir.join("examples").join("raft-kv");
    assert!(
        bin.exists(),
        "{} is missing: cargo test -p wal-raft builds it",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

struct Node {
    id: u64,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

struct Cluster {
    bin: PathBuf,
    nodes: Vec<Node>,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let nodes = (1..=3)
            .map(|id| Node {
                id,
                port: free_port(),
                dir: tmp.path().join(format!("n{id}")),
                child: None,
            })
            .collect();
        let mut c = Cluster {
            bin: binary(),
            nodes,
            _tmp: tmp,
        };
        for i in 0..3 {
            c.spawn(i, i == 0);
        }
        c
    }

    fn spawn(&mut self, i: usize, init: bool) {
        let n = &self.nodes[i];
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--id")
            .arg(n.id.to_string())
            .arg("--dir")
            .arg(&n.dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", n.port))
            .arg("--snapshot-every")
            .arg("40")
            // Small segments, so that purges behind snapshots remove files.
            .arg("--segment-size")
            .arg("4096")
            .arg("--buffer-size")
            .arg("1024");
        for p in &self.nodes {
            if p.id != n.id {
                cmd.arg("--peer")
                    .arg(format!("{}=127.0.0.1:{}", p.id, p.port));
            }
        }
        if init {
            cmd.arg("--init");
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start raft-kv");
        self.nodes[i].child = Some(child);
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            c.kill().expect("SIGKILL"); // SIGKILL on Unix
            let _ = c.wait();
        }
    }

    fn url(&self, i: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.nodes[i].port)
    }

    fn live(&self) -> Vec<usize> {
        (0..3).filter(|&i| self.nodes[i].child.is_some()).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..3 {
            self.kill(i);
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client")
}

async fn status(http: &reqwest::Client, url: String) -> Option<Value> {
    let r = http.get(url).send().await.ok()?;
    serde_json::from_slice(&r.bytes().await.ok()?).ok()
}

/// Waits (polling, with a deadline that fails the test) until `f` holds.
async fn until<F: std::future::Future<Output = Option<T>>, T>(
    what: &str,
    secs: u64,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The leader the live nodes agree on (index into the cluster).
async fn leader(c: &Cluster, http: &reqwest::Client) -> Option<usize> {
    let mut seen = None;
    for i in c.live() {
        let l = status(http, c.url(i, "/status")).await?["leader"].as_u64()?;
        if seen.is_some_and(|s| s != l) {
            return None;
        }
        seen = Some(l);
    }
    let id = seen?;
    c.live().into_iter().find(|&i| c.nodes[i].id == id)
}

fn value_of(key: &str) -> Vec<u8> {
    let n = key.len();
    if n.is_multiple_of(5) {
        return Vec::new(); // empty values are values too
    }
    let mut v = key.as_bytes().to_vec();
    v.extend_from_slice(&[0, 0xff, 0x80, n as u8]);
    v
}

/// PUTs `key` through node `i`: true if answered 200.
async fn put(http: &reqwest::Client, c: &Cluster, i: usize, key: &str) -> bool {
    let r = http
        .put(c.url(i, &format!("/kv/{key}")))
        .body(value_of(key))
        .send()
        .await;
    matches!(r, Ok(r) if r.status() == 200)
}

/// A burst of writes through every live node, `WRITERS` at a time; the
/// keys that got a 200.
async fn burst(c: &Cluster, http: &reqwest::Client, tag: &str) -> Vec<String> {
    let live = c.live();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let urls: Vec<(usize, String)> = live.iter().map(|&i| (i, c.url(i, ""))).collect();
        let http = http.clone();
        let tag = tag.to_string();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for k in 0..WRITES_PER_WRITER {
                let key = format!("{tag}-w{w}-{k}");
                let (_, base) = &urls[(w + k) % urls.len()];
                let r = http
                    .put(format!("{base}/kv/{key}"))
                    .body(value_of(&key))
                    .send()
                    .await;
                if matches!(r, Ok(r) if r.status() == 200) {
                    acked.push(key);
                }
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.expect("a writer task"));
    }
    acked
}

/// The IDs of the segment files in a WAL directory, in order.
fn segment_ids(dir: &std::path::Path) -> Vec<u64> {
    let mut ids: Vec<u64> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let hex = name.strip_prefix("seg")?.strip_suffix(".wal")?;
            u64::from_str_radix(hex, 16).ok()
        })
        .collect();
    ids.sort_unstable();
    assert!(!ids.is_empty(), "{}: no segment file", dir.display());
    ids
}

#[test]
fn three_nodes_survive_leader_kills() {
    within(420, || {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        rt.block_on(async {
            let mut c = Cluster::start();
            let http = client();
            let mut acked: BTreeMap<String, Vec<u8>> = BTreeMap::new();
            until("a first leader", 60, || leader(&c, &http)).await;
            for round in 0..KILLS {
                for key in burst(&c, &http, &format!("r{round}")).await {
                    acked.insert(key.clone(), value_of(&key));
                }
                let l = until("a leader to kill", 30, || leader(&c, &http)).await;
                c.kill(l);
                // Writes go on through the others until a new leader commits one.
                let mut n = 0;
                let first = until("a write committed by a new leader", 60, || {
                    n += 1;
                    let key = format!("r{round}-after-kill-{n}");
                    let c = &c;
                    let http = &http;
                    async move {
                        let i = c.live()[n % 2];
                        put(http, c, i, &key).await.then_some(key)
                    }
                })
                .await;
                acked.insert(first.clone(), value_of(&first));
                for key in burst(&c, &http, &format!("r{round}b")).await {
                    acked.insert(key.clone(), value_of(&key));
                }
                let l2 = until("the new leader", 30, || leader(&c, &http)).await;
                let target = status(&http, c.url(l2, "/status"))
                    .await
                    .expect("the leader's status")["committed"]
                    .as_u64()
                    .expect("committed");
                c.spawn(l, false);
                until("the restarted node to catch up", 60, || {
                    let url = c.url(l, "/status");
                    let http = &http;
                    async move {
                        (status(http, url).await?["applied"].as_u64()? >= target).then_some(())
                    }
                })
                .await;
            }
            assert!(
                acked.len() > KILLS * WRITERS,
                "too few writes acknowledged: {}",
                acked.len()
            );
            // Every acknowledged write, from every node.
            for i in 0..3 {
                for (key, want) in &acked {
                    let got = until("a read", 30, || {
                        let url = c.url(i, &format!("/kv/{key}"));
                        let http = &http;
                        async move {
                            let r = http.get(url).send().await.ok()?;
                            let code = r.status().as_u16();
                            Some((code, r.bytes().await.ok()?.to_vec()))
                        }
                    })
                    .await;
                    assert_eq!(got.0, 200, "node {} lost {key}", i + 1);
                    assert_eq!(&got.1, want, "node {} has other bytes for {key}", i + 1);
                }
            }
            // Snapshots were taken and the log purged behind them.
            let mut purged = 0;
            for i in 0..3 {
                let s = status(&http, c.url(i, "/status")).await.expect("status");
                purged = purged.max(s["purged"].as_u64().unwrap_or(0));
            }
            assert!(purged > 0, "no node purged its log");
            // ... and whole segment files went with it, on every node.
            for n in &c.nodes {
                let first = segment_ids(&n.dir.join("log"))[0];
                assert!(first > 1, "node {}: segment 1 is still there", n.id);
            }
            eprintln!(
                "{} writes acknowledged, {KILLS} leaders killed, purged through {purged}",
                acked.len()
            );
        });
    });
}
