//! rust-peer: the rust-libp2p test peer of Keel's interop suite.
//!
//! One source, built against libp2p 0.53.2 (`../v0_53`, feature `v053`) and 0.56.x (`../v0_56`,
//! feature `v056`). The command line, actions, JSON lines and events are those of
//! `tests/interop/peer-contract.md`.

#[cfg(not(any(feature = "v053", feature = "v056")))]
compile_error!("build through v0_53/ or v0_56/: one of the features v053, v056 is required");
#[cfg(all(feature = "v053", feature = "v056"))]
compile_error!("features v053 and v056 are exclusive");

mod files;
mod keys;
mod node;
mod rawstream;
mod util;

use std::process::exit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::identity::{Keypair, PublicKey};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use node::{Cmd, KadMode, NodeConfig};
use util::{debug, emit, parse_duration, Prng};

/// Set once the last action succeeded: a later signal or the hard timer then exits 0.
static ACTIONS_DONE: AtomicBool = AtomicBool::new(false);
/// The action running now, if any: a signal or the hard timer prints its failure line.
static CURRENT_ACTION: Mutex<Option<&'static str>> = Mutex::new(None);

/// Exits at once (hard timer, signal): 0 if every action already succeeded, else 1 after the
/// failure line of the action that was running.
fn exit_now(reason: &str) -> ! {
    if ACTIONS_DONE.load(Ordering::SeqCst) {
        exit(0);
    }
    let current = CURRENT_ACTION.lock().map(|g| *g).unwrap_or(None);
    if let Some(name) = current {
        emit(json!({"action": name, "ok": false, "error": reason}));
    }
    exit(1);
}

const USAGE: &str =
    "usage: rust-peer [--listen MA]... [--seed N] [--agent S] [--protocol-version S]
       [--identify-protocol P] [--kad-protocol P] [--kad-mode server|client|client-then-server:D]
       [--no-inline-muxer] [--relay-server] [--ping-interval D] [--dcutr] [--agent-check PREFIX]
       [--serve-file N] [--quiet-events] [--timeout D] [--linger D] [--max-lifetime D]
       [--do ACTION]...
see tests/interop/peer-contract.md";

struct Args {
    listen: Vec<Multiaddr>,
    seed: Option<String>,
    agent: Option<String>,
    protocol_version: Option<String>,
    identify_protocol: String,
    kad_protocol: String,
    kad_mode: KadMode,
    relay_server: bool,
    ping_interval: Option<Duration>,
    dcutr: bool,
    agent_check: Option<String>,
    serve_file: Option<u64>,
    quiet_events: bool,
    timeout: Duration,
    linger: Option<Duration>,
    max_lifetime: Duration,
    actions: Vec<Action>,
}

#[derive(Debug)]
enum Action {
    Dial(Multiaddr, PeerId),
    Ping(PeerId, u32),
    Identify(PeerId),
    Bootstrap(Multiaddr, PeerId),
    WaitRouting(usize),
    RoutingTable,
    Provide(String),
    FindProviders(String),
    PutPk,
    GetPk(PeerId),
    PutValue(String, String),
    GetValue(String),
    FindPeer(PeerId),
    Streams(PeerId, usize),
    Echo(PeerId, u64, usize),
    Hold(PeerId, Duration),
    Sleep(Duration),
    Reserve(Multiaddr, PeerId),
    EchoVia(Multiaddr, PeerId, u64),
    KeepReserved(Multiaddr, PeerId),
    WaitReserved(u64),
    WaitFile(String),
    Fetch(PeerId, u64, Option<Multiaddr>),
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Dial(..) => "dial",
            Action::Ping(..) => "ping",
            Action::Identify(..) => "identify",
            Action::Bootstrap(..) => "bootstrap",
            Action::WaitRouting(..) => "wait-routing",
            Action::RoutingTable => "routing-table",
            Action::Provide(..) => "provide",
            Action::FindProviders(..) => "find-providers",
            Action::PutPk => "put-pk",
            Action::GetPk(..) => "get-pk",
            Action::PutValue(..) => "put-value",
            Action::GetValue(..) => "get-value",
            Action::FindPeer(..) => "find-peer",
            Action::Streams(..) => "streams",
            Action::Echo(..) => "echo",
            Action::Hold(..) => "hold",
            Action::Sleep(..) => "sleep",
            Action::Reserve(..) => "reserve",
            Action::EchoVia(..) => "echo-via",
            Action::KeepReserved(..) => "keep-reserved",
            Action::WaitReserved(..) => "wait-reserved",
            Action::WaitFile(..) => "wait-file",
            Action::Fetch(..) => "fetch",
        }
    }
}

fn parse_peer(s: &str) -> Result<PeerId, String> {
    s.parse().map_err(|e| format!("bad peer id {s:?}: {e}"))
}

fn parse_ma_with_peer(s: &str) -> Result<(Multiaddr, PeerId), String> {
    let ma: Multiaddr = s.parse().map_err(|e| format!("bad multiaddr {s:?}: {e}"))?;
    match ma.iter().last() {
        Some(Protocol::P2p(peer)) => Ok((ma, peer)),
        _ => Err(format!("multiaddr {s:?} does not end in /p2p/ID")),
    }
}

fn parse_num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad number {s:?}"))
}

/// A file size of --serve-file / fetch: at most the codec's 64 MiB.
fn parse_file_size(s: &str) -> Result<u64, String> {
    let n: u64 = parse_num(s)?;
    if n > files::MAX_FILE {
        return Err(format!("file size {n} exceeds {} bytes", files::MAX_FILE));
    }
    Ok(n)
}

fn parse_action(text: &str) -> Result<Action, String> {
    let text = text.trim();
    let (name, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let rest = rest.trim();
    let args: Vec<&str> = rest.split_whitespace().collect();
    let want = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "action {name:?} takes {n} argument(s), got {:?}",
                rest
            ))
        }
    };
    Ok(match name {
        "dial" => {
            want(1)?;
            let (ma, p) = parse_ma_with_peer(args[0])?;
            Action::Dial(ma, p)
        }
        "ping" => {
            want(2)?;
            Action::Ping(parse_peer(args[0])?, parse_num(args[1])?)
        }
        "identify" => {
            want(1)?;
            Action::Identify(parse_peer(args[0])?)
        }
        "bootstrap" => {
            want(1)?;
            let (ma, p) = parse_ma_with_peer(args[0])?;
            Action::Bootstrap(ma, p)
        }
        "wait-routing" => {
            want(1)?;
            Action::WaitRouting(parse_num(args[0])?)
        }
        "routing-table" => {
            want(0)?;
            Action::RoutingTable
        }
        "provide" => {
            want(1)?;
            Action::Provide(args[0].to_string())
        }
        "find-providers" => {
            want(1)?;
            Action::FindProviders(args[0].to_string())
        }
        "put-pk" => {
            want(0)?;
            Action::PutPk
        }
        "get-pk" => {
            want(1)?;
            Action::GetPk(parse_peer(args[0])?)
        }
        "put-value" => {
            // The value is the rest of the line after the key (may hold spaces).
            let (k, v) = rest
                .split_once(char::is_whitespace)
                .ok_or_else(|| "put-value takes KEY VALUE".to_string())?;
            Action::PutValue(k.to_string(), v.trim_start().to_string())
        }
        "get-value" => {
            want(1)?;
            Action::GetValue(args[0].to_string())
        }
        "find-peer" => {
            want(1)?;
            Action::FindPeer(parse_peer(args[0])?)
        }
        "streams" => {
            want(2)?;
            Action::Streams(parse_peer(args[0])?, parse_num(args[1])?)
        }
        "echo" => {
            want(3)?;
            Action::Echo(
                parse_peer(args[0])?,
                parse_num(args[1])?,
                parse_num(args[2])?,
            )
        }
        "hold" => {
            want(2)?;
            Action::Hold(parse_peer(args[0])?, parse_duration(args[1])?)
        }
        "sleep" => {
            want(1)?;
            Action::Sleep(parse_duration(args[0])?)
        }
        "reserve" => {
            want(1)?;
            let (ma, peer) = parse_ma_with_peer(args[0])?;
            Action::Reserve(ma, peer)
        }
        "echo-via" => {
            want(2)?;
            let (ma, peer) = parse_ma_with_peer(args[0])?;
            Action::EchoVia(ma, peer, parse_num(args[1])?)
        }
        "keep-reserved" => {
            want(1)?;
            let (ma, peer) = parse_ma_with_peer(args[0])?;
            Action::KeepReserved(ma, peer)
        }
        "wait-reserved" => {
            want(1)?;
            Action::WaitReserved(parse_num(args[0])?)
        }
        "wait-file" => {
            want(1)?;
            Action::WaitFile(args[0].to_string())
        }
        "fetch" => {
            if args.len() != 2 && args.len() != 3 {
                return Err(format!("fetch takes PEER N [MA], got {rest:?}"));
            }
            let peer = parse_peer(args[0])?;
            let n = parse_file_size(args[1])?;
            let ma = match args.get(2) {
                Some(a) => {
                    let (ma, last) = parse_ma_with_peer(a)?;
                    if last != peer {
                        return Err(format!("fetch: {a:?} does not end in /p2p/{peer}"));
                    }
                    Some(ma)
                }
                None => None,
            };
            Action::Fetch(peer, n, ma)
        }
        _ => return Err(format!("unknown action {name:?}")),
    })
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        listen: Vec::new(),
        seed: None,
        agent: None,
        protocol_version: None,
        identify_protocol: "/ipfs/id/1.0.0".into(),
        kad_protocol: "/ipfs/kad/1.0.0".into(),
        kad_mode: KadMode::Server,
        relay_server: false,
        ping_interval: None,
        dcutr: false,
        agent_check: None,
        serve_file: None,
        quiet_events: false,
        timeout: Duration::from_secs(20),
        linger: None,
        max_lifetime: Duration::from_secs(300),
        actions: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            exit(0);
        }
        if flag == "--no-inline-muxer" {
            // rust-libp2p never offers the muxer inside the Noise handshake: nothing to do.
            continue;
        }
        if flag == "--quiet-events" {
            a.quiet_events = true;
            continue;
        }
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                a.listen
                    .push(v.parse().map_err(|e| format!("bad --listen {v:?}: {e}"))?);
            }
            "--seed" => a.seed = Some(value()?),
            "--agent" => a.agent = Some(value()?),
            "--protocol-version" => a.protocol_version = Some(value()?),
            "--identify-protocol" => a.identify_protocol = value()?,
            "--kad-protocol" => a.kad_protocol = value()?,
            "--kad-mode" => {
                let v = value()?;
                a.kad_mode = match v.as_str() {
                    "server" => KadMode::Server,
                    "client" => KadMode::Client,
                    _ => match v.strip_prefix("client-then-server:") {
                        Some(d) => KadMode::ClientThenServer(parse_duration(d)?),
                        None => return Err(format!("bad --kad-mode {v:?}")),
                    },
                };
            }
            "--relay-server" => a.relay_server = true,
            "--ping-interval" => {
                let d = parse_duration(&value()?)?;
                if d.is_zero() {
                    return Err("--ping-interval must be positive".into());
                }
                a.ping_interval = Some(d);
            }
            "--dcutr" => a.dcutr = true,
            "--agent-check" => a.agent_check = Some(value()?),
            "--serve-file" => a.serve_file = Some(parse_file_size(&value()?)?),
            "--timeout" => a.timeout = parse_duration(&value()?)?,
            "--linger" => a.linger = Some(parse_duration(&value()?)?),
            "--max-lifetime" => a.max_lifetime = parse_duration(&value()?)?,
            "--do" => a.actions.push(parse_action(&value()?)?),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(a)
}

fn keypair(seed: Option<&str>) -> Keypair {
    match seed {
        Some(n) => {
            let bytes: [u8; 32] = Sha256::digest(format!("keel-interop-{n}").as_bytes()).into();
            Keypair::ed25519_from_bytes(bytes).expect("32-byte ed25519 seed")
        }
        None => Keypair::generate_ed25519(),
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rust-peer: {e}\n{USAGE}");
            exit(2);
        }
    };

    // The hard limit: a plain thread, so it fires whatever state the runtime is in.
    let max = args.max_lifetime;
    std::thread::spawn(move || {
        std::thread::sleep(max);
        eprintln!("rust-peer: --max-lifetime reached");
        exit_now("--max-lifetime reached");
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(run(args));
    exit(code);
}

struct Ctx {
    cmds: mpsc::UnboundedSender<Cmd>,
    control: rawstream::Control,
    local: PeerId,
    public: PublicKey,
    timeout: Duration,
}

impl Ctx {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Cmd) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(make(tx))
            .map_err(|_| "node stopped".to_string())?;
        rx.await.map_err(|_| "node dropped the request".to_string())
    }
}

async fn run(args: Args) -> i32 {
    let keypair = keypair(args.seed.as_deref());
    let public = keypair.public();

    // rust-libp2p's identify protocol ID is fixed (/ipfs/id/1.0.0, /ipfs/id/push/1.0.0). What a
    // rust application such as Chiral passes to identify::Config::new is the protocolVersion,
    // so a non-default --identify-protocol becomes the protocolVersion (unless
    // --protocol-version says otherwise).
    let protocol_version = match (&args.protocol_version, args.identify_protocol.as_str()) {
        (Some(v), _) => v.clone(),
        (None, "/ipfs/id/1.0.0") => "ipfs/0.1.0".to_string(),
        (None, p) => {
            eprintln!(
                "rust-peer: rust-libp2p cannot change the identify protocol ID; \
                 --identify-protocol {p} sets the identify protocolVersion instead"
            );
            p.to_string()
        }
    };
    let kad_protocol = match StreamProtocol::try_from_owned(args.kad_protocol.clone()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rust-peer: bad --kad-protocol: {e}");
            return 2;
        }
    };
    let cfg = NodeConfig {
        keypair: keypair.clone(),
        listen: args.listen.clone(),
        agent: args.agent.clone(),
        protocol_version,
        kad_protocol,
        kad_mode: args.kad_mode,
        idle_timeout: args.max_lifetime + Duration::from_secs(60),
        relay_server: args.relay_server,
        ping_interval: args.ping_interval,
        dcutr: args.dcutr,
        agent_check: args.agent_check.clone(),
        serve_file: args.serve_file.map(|n| n as usize),
        request_timeout: args.timeout,
        quiet_events: args.quiet_events,
        // A quiet peer without actions is a bootstrap under load (bench/compare.sh): nothing
        // reads the per-peer records then.
        peer_records: !(args.quiet_events && args.actions.is_empty()),
    };
    let (node, control) = match node::build(cfg) {
        Ok(n) => n,
        Err(e) => {
            emit(json!({"event": "error", "error": e}));
            return 1;
        }
    };
    let local = node.local_peer_id();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    tokio::spawn(node.run(cmd_rx, ready_tx));

    tokio::spawn(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        debug("signal: exiting");
        exit_now("interrupted by a signal");
    });

    if ready_rx.await.is_err() {
        return 1;
    }

    let ctx = Ctx {
        cmds: cmd_tx,
        control,
        local,
        public,
        timeout: args.timeout,
    };
    for action in &args.actions {
        let name = action.name();
        debug(&format!("action {action:?}"));
        let deadline = match action {
            Action::Sleep(_) => None,
            Action::Hold(_, d) => Some(*d + ctx.timeout),
            _ => Some(ctx.timeout),
        };
        *CURRENT_ACTION.lock().unwrap_or_else(|e| e.into_inner()) = Some(name);
        let fut = run_action(&ctx, action);
        let result = match deadline {
            None => fut.await,
            Some(d) => match tokio::time::timeout(d, fut).await {
                Ok(r) => r,
                Err(_) => Err((format!("timed out after {}", fmt_duration(d)), Map::new())),
            },
        };
        // Holding the lock while printing keeps a concurrent exit_now from printing a second
        // line for this action.
        let mut current = CURRENT_ACTION.lock().unwrap_or_else(|e| e.into_inner());
        *current = None;
        let mut line = Map::new();
        line.insert("action".into(), json!(name));
        match result {
            Ok(fields) => {
                line.insert("ok".into(), json!(true));
                line.extend(fields);
                emit(Value::Object(line));
            }
            Err((error, fields)) => {
                line.insert("ok".into(), json!(false));
                line.extend(fields);
                line.insert("error".into(), json!(error));
                emit(Value::Object(line));
                return 1;
            }
        }
        drop(current);
    }
    ACTIONS_DONE.store(true, Ordering::SeqCst);

    match (args.linger, args.listen.is_empty()) {
        (Some(d), _) => {
            tokio::time::sleep(d).await;
            0
        }
        (None, false) => {
            // Until a signal or --max-lifetime.
            futures::future::pending::<()>().await;
            0
        }
        (None, true) => 0,
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

type ActionResult = Result<Map<String, Value>, (String, Map<String, Value>)>;

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn fail<T>(e: impl Into<String>) -> Result<T, (String, Map<String, Value>)> {
    Err((e.into(), Map::new()))
}

/// Connects to `peer` at `addr` (the dial and bootstrap actions).
async fn dial(
    ctx: &Ctx,
    peer: PeerId,
    addr: Multiaddr,
) -> Result<(), (String, Map<String, Value>)> {
    ctx.ask(|reply| Cmd::Dial { peer, addr, reply })
        .await
        .and_then(|r| r)
        .or_else(fail)
}

async fn run_action(ctx: &Ctx, action: &Action) -> ActionResult {
    match action {
        Action::Dial(ma, peer) => {
            dial(ctx, *peer, ma.clone()).await?;
            Ok(fields(json!({"peer": peer.to_string()})))
        }
        Action::Ping(peer, n) => {
            let rtts = ping(ctx, *peer, *n).await.or_else(fail)?;
            Ok(fields(json!({"rtts_ms": rtts})))
        }
        Action::Identify(peer) => {
            let peer = *peer;
            let info = ctx
                .ask(|reply| Cmd::Identify { peer, reply })
                .await
                .or_else(fail)?;
            Ok(fields(json!({
                "peer": peer.to_string(),
                "protocol_version": info.protocol_version,
                "agent_version": info.agent_version,
                "protocols": info.protocols,
                "listen_addrs": info.listen_addrs,
                "observed_addr": info.observed_addr,
            })))
        }
        Action::Bootstrap(ma, peer) => {
            let (peer, ma) = (*peer, ma.clone());
            let addr = ma.clone();
            ctx.cmds
                .send(Cmd::KadAddAddress { peer, addr })
                .map_err(|_| ("node stopped".to_string(), Map::new()))?;
            dial(ctx, peer, ma).await?;
            let n = ctx
                .ask(|reply| Cmd::Bootstrap { reply })
                .await
                .and_then(|r| r)
                .or_else(fail)?;
            Ok(fields(json!({"peers": n})))
        }
        Action::WaitRouting(n) => {
            // A real node refreshes its table every few minutes; waiting, we start a Kademlia
            // bootstrap every 2 s (not awaited) so that a node that joined before the others
            // learns of them (the contract's wait-routing).
            let mut polls = 0u32;
            loop {
                let peers = ctx
                    .ask(|reply| Cmd::RoutingTable { reply })
                    .await
                    .or_else(fail)?;
                if peers.len() >= *n {
                    let ids: Vec<String> = peers.iter().map(|p| p.to_string()).collect();
                    return Ok(fields(json!({"peers": ids})));
                }
                polls += 1;
                if polls % 20 == 0 {
                    let (reply, _ignored) = oneshot::channel();
                    let _ = ctx.cmds.send(Cmd::Bootstrap { reply });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Action::RoutingTable => {
            let peers = ctx
                .ask(|reply| Cmd::RoutingTable { reply })
                .await
                .or_else(fail)?;
            let ids: Vec<String> = peers.iter().map(|p| p.to_string()).collect();
            Ok(fields(json!({"peers": ids})))
        }
        Action::Provide(text) => {
            let k = keys::content_key(text);
            let key = k.multihash.clone();
            ctx.ask(|reply| Cmd::Provide { key, reply })
                .await
                .and_then(|r| r)
                .map_err(|e| (e, fields(json!({"key": k.cid}))))?;
            Ok(fields(json!({"key": k.cid})))
        }
        Action::FindProviders(text) => {
            let k = keys::content_key(text);
            let key = k.multihash.clone();
            let start = Instant::now();
            let providers = ctx
                .ask(|reply| Cmd::FindProviders { key, reply })
                .await
                .and_then(|r| r)
                .map_err(|e| {
                    (
                        e,
                        fields(json!({"key": k.cid, "providers": [], "ms": ms(start)})),
                    )
                })?;
            let elapsed = ms(start);
            let ids: Vec<String> = providers.iter().map(|(p, _)| p.to_string()).collect();
            let mut addrs = Map::new();
            for (p, a) in providers.iter().filter(|(_, a)| !a.is_empty()) {
                let a: Vec<String> = a.iter().map(|a| a.to_string()).collect();
                addrs.insert(p.to_string(), json!(a));
            }
            Ok(fields(json!({
                "key": k.cid,
                "providers": ids,
                "ms": elapsed,
                "provider_addrs": addrs,
            })))
        }
        Action::PutPk => {
            let key = pk_key(&ctx.local);
            let value = ctx.public.encode_protobuf();
            let shown = format!("/pk/{}", ctx.local);
            ctx.ask(|reply| Cmd::PutRecord { key, value, reply })
                .await
                .and_then(|r| r)
                .map_err(|e| (e, fields(json!({"key": shown}))))?;
            Ok(fields(json!({"key": shown})))
        }
        Action::GetPk(peer) => {
            let key = pk_key(peer);
            let shown = format!("/pk/{peer}");
            let value = ctx
                .ask(|reply| Cmd::GetRecord { key, reply })
                .await
                .and_then(|r| r)
                .map_err(|e| (e, fields(json!({"key": shown}))))?;
            let pk = PublicKey::try_decode_protobuf(&value).map_err(|e| {
                (
                    format!("record is not a public key: {e}"),
                    fields(json!({"key": shown})),
                )
            })?;
            if pk.to_peer_id() != *peer {
                return Err((
                    format!("record holds the key of {}, not {peer}", pk.to_peer_id()),
                    fields(json!({"key": shown})),
                ));
            }
            Ok(fields(json!({"key": shown})))
        }
        Action::PutValue(k, v) => {
            let (key, value) = (k.as_bytes().to_vec(), v.as_bytes().to_vec());
            ctx.ask(|reply| Cmd::PutRecord { key, value, reply })
                .await
                .and_then(|r| r)
                .map_err(|e| (e, fields(json!({"key": k}))))?;
            Ok(fields(json!({"key": k})))
        }
        Action::GetValue(k) => {
            let key = k.as_bytes().to_vec();
            let value = ctx
                .ask(|reply| Cmd::GetRecord { key, reply })
                .await
                .and_then(|r| r)
                .map_err(|e| (e, fields(json!({"key": k}))))?;
            Ok(fields(
                json!({"key": k, "value": String::from_utf8_lossy(&value)}),
            ))
        }
        Action::FindPeer(peer) => {
            let peer = *peer;
            let addrs = ctx
                .ask(|reply| Cmd::FindPeer { peer, reply })
                .await
                .and_then(|r| r)
                .map_err(|e| (e, fields(json!({"peer": peer.to_string(), "addrs": []}))))?;
            let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            Ok(fields(json!({"peer": peer.to_string(), "addrs": addrs})))
        }
        Action::Streams(peer, n) => {
            let start = Instant::now();
            let futs = (0..*n).map(|i| stream_once(ctx, *peer, i as u32));
            let results = futures::future::join_all(futs).await;
            let ok = results.iter().filter(|r| r.is_ok()).count();
            let elapsed = ms(start);
            if ok < *n {
                return Err((
                    format!(
                        "{} of {n} streams failed: {}",
                        n - ok,
                        error_summary(&results)
                    ),
                    fields(json!({"opened": ok, "ms": elapsed})),
                ));
            }
            Ok(fields(json!({"opened": ok, "ms": elapsed})))
        }
        Action::Echo(peer, bytes, s) => {
            let start = Instant::now();
            let futs = (0..*s).map(|i| echo_once(ctx, *peer, *bytes, i as u64));
            let results = futures::future::join_all(futs).await;
            let elapsed = ms(start);
            let failed = results.iter().filter(|r| r.is_err()).count();
            if failed > 0 {
                return Err((
                    format!(
                        "{failed} of {s} streams failed: {}",
                        error_summary(&results)
                    ),
                    fields(json!({"bytes": bytes, "streams": s, "ms": elapsed})),
                ));
            }
            Ok(fields(json!({"bytes": bytes, "streams": s, "ms": elapsed})))
        }
        Action::Hold(peer, d) => {
            let peer = *peer;
            let ids = ctx
                .ask(|reply| Cmd::Connections { peer, reply })
                .await
                .or_else(fail)?;
            if ids.is_empty() {
                return Err((
                    format!("not connected to {peer}"),
                    fields(json!({"connected": false})),
                ));
            }
            tokio::time::sleep(*d).await;
            let open = ctx
                .ask(|reply| Cmd::AnyOpen { ids, reply })
                .await
                .or_else(fail)?;
            if !open {
                return Err((
                    format!("the connection to {peer} closed during the hold"),
                    fields(json!({"connected": false})),
                ));
            }
            Ok(fields(json!({"connected": true})))
        }
        Action::Sleep(d) => {
            tokio::time::sleep(*d).await;
            Ok(Map::new())
        }
        Action::Reserve(ma, relay) => {
            let (relay, addr) = (*relay, ma.clone());
            let info = ctx
                .ask(|reply| Cmd::Reserve { relay, addr, reply })
                .await
                .and_then(|r| r)
                .or_else(fail)?;
            Ok(reserve_fields(ctx, ma, relay, info))
        }
        Action::EchoVia(ma, peer, bytes) => {
            let start = Instant::now();
            dial(ctx, *peer, ma.clone()).await?;
            echo_once(ctx, *peer, *bytes, 0)
                .await
                .map_err(|e| (e, fields(json!({"peer": peer.to_string()}))))?;
            Ok(fields(
                json!({"peer": peer.to_string(), "bytes": bytes, "ms": ms(start)}),
            ))
        }
        Action::KeepReserved(ma, relay) => {
            let (relay, addr) = (*relay, ma.clone());
            let info = ctx
                .ask(|reply| Cmd::KeepReserved { relay, addr, reply })
                .await
                .and_then(|r| r)
                .or_else(fail)?;
            Ok(reserve_fields(ctx, ma, relay, info))
        }
        Action::WaitReserved(n) => loop {
            let got = ctx
                .ask(|reply| Cmd::Reservations { reply })
                .await
                .or_else(fail)?;
            if got >= *n {
                return Ok(fields(json!({"n": got})));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        },
        Action::WaitFile(path) => {
            let start = Instant::now();
            while !std::path::Path::new(path).exists() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(fields(json!({"path": path, "ms": ms(start)})))
        }
        Action::Fetch(peer, n, ma) => {
            let peer = *peer;
            let err_fields = || fields(json!({"peer": peer.to_string()}));
            let start = Instant::now();
            match ma {
                Some(ma) => dial(ctx, peer, ma.clone()).await?,
                None => ctx
                    .ask(|reply| Cmd::DialKnown { peer, reply })
                    .await
                    .and_then(|r| r)
                    .map_err(|e| (e, err_fields()))?,
            }
            let name = "file".to_string();
            let got = ctx
                .ask(|reply| Cmd::Fetch { peer, name, reply })
                .await
                .and_then(|r| r)
                .map_err(|e| (e, err_fields()))?;
            let elapsed = ms(start);
            let data = &got.data;
            let mut out = err_fields();
            out.insert("bytes".into(), json!(data.len()));
            out.insert("ms".into(), json!(elapsed));
            out.insert("sha256".into(), json!(files::sha256_hex(data)));
            out.insert("relayed".into(), json!(got.relayed));
            if data.len() as u64 != *n {
                return Err((
                    format!("got {} bytes, expected {n}", data.len()),
                    out,
                ));
            }
            let want = files::content(&peer, *n as usize);
            if let Some(off) = data.iter().zip(&want).position(|(a, b)| a != b) {
                return Err((format!("byte {off} differs from what {peer} serves"), out));
            }
            Ok(out)
        }
    }
}

/// The JSON fields of reserve / keep-reserved.
fn reserve_fields(
    ctx: &Ctx,
    ma: &Multiaddr,
    relay: PeerId,
    info: node::ReserveInfo,
) -> Map<String, Value> {
    let mut circuits: Vec<String> = Vec::new();
    let own = format!("/p2p/{}", ctx.local);
    for a in info
        .circuit_addrs
        .iter()
        .map(|a| a.to_string())
        .chain(std::iter::once(format!("{ma}/p2p-circuit")))
    {
        let a = if a.ends_with(&own) {
            a
        } else {
            format!("{a}{own}")
        };
        if !circuits.contains(&a) {
            circuits.push(a);
        }
    }
    // rust-libp2p's client does not expose the reservation's expiry, addresses or voucher (it
    // ignores the voucher).
    fields(json!({
        "relay": relay.to_string(),
        "circuit_addrs": circuits,
        "limit_duration_s": info.limit_duration_s,
        "limit_data": info.limit_data,
    }))
}

/// "N× error; M× other error" over the failed results, most frequent first.
fn error_summary(results: &[Result<(), String>]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        // Per-stream prefixes ("stream 12: ") would make every message distinct.
        let generic = match e.split_once(": ") {
            Some((head, tail))
                if head.starts_with("stream ") || head.starts_with("echo stream ") =>
            {
                tail
            }
            _ => e.as_str(),
        };
        match counts.iter_mut().find(|(m, _)| m == generic) {
            Some((_, c)) => *c += 1,
            None => counts.push((generic.to_string(), 1)),
        }
    }
    counts.sort_by_key(|(_, c)| std::cmp::Reverse(*c));
    counts
        .iter()
        .map(|(m, c)| format!("{c}x {m}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn pk_key(peer: &PeerId) -> Vec<u8> {
    let mut k = b"/pk/".to_vec();
    k.extend_from_slice(&peer.to_bytes());
    k
}

const PING: StreamProtocol = StreamProtocol::new("/ipfs/ping/1.0.0");

/// N pings on one `/ipfs/ping/1.0.0` stream (32 random bytes out, the same 32 back).
///
/// rust-libp2p's ping handler serves one inbound ping stream per connection and drops the
/// previous one when another arrives; our own ping behaviour pings on every new connection, so
/// against a rust peer the action's stream can lose that race. A ping whose stream fails is
/// retried once on a new stream (three new streams at most).
async fn ping(ctx: &Ctx, peer: PeerId, n: u32) -> Result<Vec<f64>, String> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    let mut rng = Prng::new(seed);
    let mut rtts = Vec::new();
    let mut stream = ctx.control.open(peer, PING, ctx.timeout).await?;
    let mut reopens = 0;
    while rtts.len() < n as usize {
        let mut out = [0u8; 32];
        rng.fill(&mut out);
        let start = Instant::now();
        let attempt = async {
            stream
                .write_all(&out)
                .await
                .map_err(|e| format!("ping write: {e}"))?;
            stream
                .flush()
                .await
                .map_err(|e| format!("ping write: {e}"))?;
            let mut back = [0u8; 32];
            stream
                .read_exact(&mut back)
                .await
                .map_err(|e| format!("ping read: {e}"))?;
            Ok::<_, String>(back)
        };
        match attempt.await {
            Ok(back) if back == out => rtts.push(ms(start)),
            Ok(_) => return Err("ping: the echoed payload differs".into()),
            Err(e) if reopens < 3 => {
                debug(&format!("ping: {e}; retrying on a new stream"));
                reopens += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
                stream = ctx.control.open(peer, PING, ctx.timeout).await?;
            }
            Err(e) => return Err(e),
        }
    }
    let _ = stream.close().await;
    Ok(rtts)
}

/// One stream of `streams`: 4 bytes out, the same 4 back, close, wait for the remote's close.
async fn stream_once(ctx: &Ctx, peer: PeerId, i: u32) -> Result<(), String> {
    let mut s = ctx.control.open(peer, rawstream::ECHO, ctx.timeout).await?;
    let out = i.to_be_bytes();
    s.write_all(&out)
        .await
        .map_err(|e| format!("stream {i}: write: {e}"))?;
    s.flush()
        .await
        .map_err(|e| format!("stream {i}: write: {e}"))?;
    let mut back = [0u8; 4];
    s.read_exact(&mut back)
        .await
        .map_err(|e| format!("stream {i}: read: {e}"))?;
    if back != out {
        return Err(format!("stream {i}: echoed bytes differ"));
    }
    s.close()
        .await
        .map_err(|e| format!("stream {i}: close: {e}"))?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)
        .await
        .map_err(|e| format!("stream {i}: read after close: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "stream {i}: {} unexpected bytes after the echo",
            rest.len()
        ));
    }
    Ok(())
}

const CHUNK: usize = 64 * 1024;

/// One stream of `echo`: writes `bytes` pseudo-random bytes while reading the echo back, then
/// half-closes and checks every byte came back, followed by the remote's close.
async fn echo_once(ctx: &Ctx, peer: PeerId, bytes: u64, idx: u64) -> Result<(), String> {
    let stream = ctx.control.open(peer, rawstream::ECHO, ctx.timeout).await?;
    let (mut r, mut w) = stream.split();
    let writer = async {
        let mut gen = Prng::new(idx);
        let mut buf = vec![0u8; CHUNK];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            gen.fill(&mut buf[..n]);
            w.write_all(&buf[..n])
                .await
                .map_err(|e| format!("echo stream {idx}: write: {e}"))?;
            left -= n as u64;
        }
        w.close()
            .await
            .map_err(|e| format!("echo stream {idx}: close: {e}"))?;
        Ok::<(), String>(())
    };
    let reader = async {
        let mut gen = Prng::new(idx);
        let mut buf = vec![0u8; CHUNK];
        let mut want = vec![0u8; CHUNK];
        let mut got: u64 = 0;
        loop {
            let n = r.read(&mut buf).await.map_err(|e| {
                format!("echo stream {idx}: read after {got} of {bytes} bytes: {e}")
            })?;
            if n == 0 {
                break;
            }
            if got + n as u64 > bytes {
                return Err(format!(
                    "echo stream {idx}: more bytes came back than were sent"
                ));
            }
            gen.fill(&mut want[..n]);
            if buf[..n] != want[..n] {
                let off = buf[..n]
                    .iter()
                    .zip(&want[..n])
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                return Err(format!(
                    "echo stream {idx}: byte {} differs",
                    got + off as u64
                ));
            }
            got += n as u64;
        }
        if got != bytes {
            return Err(format!(
                "echo stream {idx}: stream closed after {got} of {bytes} bytes"
            ));
        }
        Ok(())
    };
    futures::try_join!(writer, reader)?;
    Ok(())
}
