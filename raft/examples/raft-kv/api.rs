//! The HTTP routes of a node: the client API (`PUT`/`GET /kv/{key}`,
//! `GET /status`) and the raft RPCs the peers post (`/raft/...`).
//!
//! A write is answered 200 only once committed (and applied here, or on
//! the leader it was forwarded to). A read is linearizable: the leader
//! confirms it still leads and its state machine has applied everything
//! committed before the read. A follower forwards both to the leader
//! itself (one hop: a forwarded request that finds no leader is 503).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::{BasicNode, Raft};
use serde::Serialize;
use wal_raft::kv::NodeId;
use wal_raft::{KvConfig, KvStateMachine, LogReader, Request};

/// The header a forwarded request carries (so that it is not forwarded
/// again).
const FORWARDED: &str = "x-raft-kv-forwarded";

/// What the routes share.
#[derive(Clone)]
pub struct App {
    pub id: NodeId,
    pub raft: Raft<KvConfig>,
    pub sm: KvStateMachine,
    pub log: LogReader<KvConfig>,
    pub http: reqwest::Client,
}

/// The node's routes.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/kv/{key}", get(get_kv).put(put_kv))
        .route("/status", get(status))
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot))
        .with_state(app)
}

fn json(v: &impl Serialize) -> Response {
    match serde_json::to_vec(v) {
        Ok(body) => ([("content-type", "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn unavailable(why: impl std::fmt::Display) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response()
}

async fn put_kv(State(app): State<App>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let Some(key) = key_of(&uri) else {
        return (StatusCode::BAD_REQUEST, "bad key\n").into_response();
    };
    let req = Request {
        key,
        value: body.to_vec(),
    };
    match app.raft.client_write(req).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
            forward(&app, Method::PUT, &uri, &headers, body, f.leader_node).await
        }
        Err(e) => unavailable(e),
    }
}

async fn get_kv(State(app): State<App>, uri: Uri, headers: HeaderMap) -> Response {
    let Some(key) = key_of(&uri) else {
        return (StatusCode::BAD_REQUEST, "bad key\n").into_response();
    };
    match app.raft.ensure_linearizable().await {
        Ok(_) => match app.sm.get(&key) {
            Some(v) => v.into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
        Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
            forward(
                &app,
                Method::GET,
                &uri,
                &headers,
                Bytes::new(),
                f.leader_node,
            )
            .await
        }
        Err(e) => unavailable(e),
    }
}

/// The key a `/kv/{key}` path names, percent-decoded.
fn key_of(uri: &Uri) -> Option<String> {
    let raw = uri.path().strip_prefix("/kv/")?;
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// Sends the request on to the leader and hands back its answer.
async fn forward(
    app: &App,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
    leader: Option<BasicNode>,
) -> Response {
    if headers.contains_key(FORWARDED) {
        return unavailable("forwarded to a node that is not the leader");
    }
    let Some(leader) = leader else {
        return unavailable("no leader known yet");
    };
    let url = format!("http://{}{}", leader.addr, uri.path());
    let method =
        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    let sent = app
        .http
        .request(method, url)
        .header(FORWARDED, app.id.to_string())
        .body(body)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return unavailable(format!("the leader {} did not answer: {e}", leader.addr)),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    match resp.bytes().await {
        Ok(b) => (status, b).into_response(),
        Err(e) => unavailable(format!("the leader's answer broke off: {e}")),
    }
}

/// `GET /status`.
#[derive(Serialize)]
struct Status {
    id: NodeId,
    leader: Option<NodeId>,
    term: u64,
    last_log_index: u64,
    committed: u64,
    applied: u64,
    /// The last index in a snapshot, and the last purged (0: none).
    snapshot: u64,
    purged: u64,
}

async fn status(State(app): State<App>) -> Response {
    let m = app.raft.metrics().borrow().clone();
    json(&Status {
        id: app.id,
        leader: m.current_leader,
        term: m.current_term,
        last_log_index: m.last_log_index.unwrap_or(0),
        committed: app.log.committed().map_or(0, |c| c.index),
        applied: m.last_applied.map_or(0, |a| a.index),
        snapshot: m.snapshot.map_or(0, |s| s.index),
        purged: m.purged.map_or(0, |p| p.index),
    })
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("bad request: {e}\n"))
}

fn bad_request(why: String) -> Response {
    (StatusCode::BAD_REQUEST, why).into_response()
}

async fn append(State(app): State<App>, body: Bytes) -> Response {
    match parse(&body) {
        Ok(req) => json(&app.raft.append_entries(req).await),
        Err(why) => bad_request(why),
    }
}

async fn vote(State(app): State<App>, body: Bytes) -> Response {
    match parse(&body) {
        Ok(req) => json(&app.raft.vote(req).await),
        Err(why) => bad_request(why),
    }
}

async fn snapshot(State(app): State<App>, body: Bytes) -> Response {
    match parse(&body) {
        Ok(req) => json(&app.raft.install_snapshot(req).await),
        Err(why) => bad_request(why),
    }
}
