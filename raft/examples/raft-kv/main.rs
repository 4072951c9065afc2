//! `raft-kv`: a replicated key-value store, three (or more) processes on
//! loopback, each keeping its raft log in the WAL (`wal_raft::LogStore`)
//! and its state machine's snapshots in a file.
//!
//! ```sh
//! raft-kv --id 1 --dir d1 --listen 127.0.0.1:7001 --peer 2=127.0.0.1:7002 --peer 3=127.0.0.1:7003 --init
//! raft-kv --id 2 --dir d2 --listen 127.0.0.1:7002 --peer 1=127.0.0.1:7001 --peer 3=127.0.0.1:7003
//! raft-kv --id 3 --dir d3 --listen 127.0.0.1:7003 --peer 1=127.0.0.1:7001 --peer 2=127.0.0.1:7002
//! curl -X PUT --data-binary v http://127.0.0.1:7002/kv/k   # 200 once committed
//! curl http://127.0.0.1:7003/kv/k                          # linearizable: v
//! curl http://127.0.0.1:7001/status
//! ```
//!
//! A restart passes the same arguments without `--init`.

mod api;
mod network;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use openraft::error::{InitializeError, RaftError};
use openraft::{BasicNode, Raft, SnapshotPolicy};
use wal_raft::kv::NodeId;
use wal_raft::{KvConfig, KvStateMachine, LogStore};

/// One node of the replicated key-value store.
#[derive(Parser, Debug)]
#[command(name = "raft-kv")]
struct Args {
    /// This node's id.
    #[arg(long)]
    id: NodeId,
    /// Where the node keeps its log (DIR/log) and snapshots (DIR/sm).
    #[arg(long)]
    dir: PathBuf,
    /// The loopback address to serve clients and peers on.
    #[arg(long)]
    listen: SocketAddr,
    /// Another node, as ID=127.0.0.1:PORT (repeat for each).
    #[arg(long = "peer", value_parser = parse_peer)]
    peers: Vec<(NodeId, SocketAddr)>,
    /// Initialise the cluster with this node and every peer (once, on one
    /// node; a node already initialised ignores it).
    #[arg(long)]
    init: bool,
    /// Take a snapshot every this many log entries (the log before it,
    /// less 100 entries, is then purged).
    #[arg(long, default_value_t = 500)]
    snapshot_every: u64,
    /// The size at which the log's WAL starts a new segment file (bytes):
    /// a purge removes whole segments only.
    #[arg(long, default_value_t = wal::Config::default().file_size)]
    segment_size: u64,
    /// The WAL's write buffer (bytes): a frame holds at most this much.
    /// A segment must hold one full buffer.
    #[arg(long, default_value_t = wal::Config::default().buffer_size)]
    buffer_size: usize,
}

fn parse_peer(s: &str) -> Result<(NodeId, SocketAddr), String> {
    let (id, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not ID=ADDR"))?;
    let id = id.parse().map_err(|e| format!("bad node id {id:?}: {e}"))?;
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("bad address {addr:?}: {e}"))?;
    Ok((id, addr))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raft-kv: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    for addr in std::iter::once(&args.listen).chain(args.peers.iter().map(|p| &p.1)) {
        if !addr.ip().is_loopback() {
            return Err(format!(
                "{addr} is not a loopback address: raft-kv serves loopback only"
            ));
        }
    }
    if args.peers.iter().any(|p| p.0 == args.id) {
        return Err(format!("--peer names this node's own id {}", args.id));
    }
    // Bind first: a restart takes its port back at once.
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| format!("bind {}: {e}", args.listen))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let log_dir = args.dir.join("log");
    let config = wal::Config::default()
        .with_file_size(args.segment_size)
        .with_buffer_size(args.buffer_size);
    let store: LogStore<KvConfig> =
        LogStore::open(&log_dir, config).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    let sm = KvStateMachine::open(args.dir.join("sm")).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("a runtime: {e}"))?;
    rt.block_on(serve(args, listener, store, sm))
}

async fn serve(
    args: Args,
    listener: std::net::TcpListener,
    store: LogStore<KvConfig>,
    sm: KvStateMachine,
) -> Result<(), String> {
    let config = openraft::Config {
        cluster_name: "raft-kv".into(),
        heartbeat_interval: 100,
        election_timeout_min: 500,
        election_timeout_max: 1000,
        // A snapshot every `--snapshot-every` entries; the log keeps 100
        // before it, the rest is purged (the WAL's checkpoint removes
        // whole segments).
        snapshot_policy: SnapshotPolicy::LogsSinceLast(args.snapshot_every),
        max_in_snapshot_log_to_keep: 100.min(args.snapshot_every),
        ..Default::default()
    }
    .validate()
    .map_err(|e| e.to_string())?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let log = store.reader();
    let network = network::Network { http: http.clone() };
    let raft = Raft::new(args.id, Arc::new(config), network, store, sm.clone())
        .await
        .map_err(|e| format!("start raft: {e}"))?;
    if args.init {
        let mut members = BTreeMap::new();
        members.insert(args.id, BasicNode::new(args.listen));
        for (id, addr) in &args.peers {
            members.insert(*id, BasicNode::new(addr));
        }
        match raft.initialize(members).await {
            Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
            Err(e) => return Err(format!("initialise: {e}")),
        }
    }
    let app = api::App {
        id: args.id,
        raft: raft.clone(),
        sm,
        log,
        http,
    };
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
    eprintln!("raft-kv: node {} serving on {}", args.id, args.listen);
    axum::serve(listener, api::router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())?;
    raft.shutdown()
        .await
        .map_err(|e| format!("shut down: {e}"))?;
    Ok(())
}
