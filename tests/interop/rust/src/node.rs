//! The swarm task: owns the Swarm, prints events, answers the action runner's commands.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::kad::{
    self, store::MemoryStore, Mode, QueryId, QueryResult, Quorum, Record, RecordKey,
};
use libp2p::core::transport::ListenerId;
use libp2p::core::Endpoint;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    dcutr, identify, noise, ping, relay, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::files;
use crate::rawstream;
use crate::util::{debug, debugf, emit};

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<MemoryStore>,
    raw: rawstream::Behaviour,
    /// The Circuit Relay v2 server (--relay-server).
    relay: Toggle<relay::Behaviour>,
    /// The Circuit Relay v2 client: always on (the reserve action, dials of /p2p-circuit
    /// addresses, inbound circuits).
    relay_client: relay::client::Behaviour,
    /// DCUtR (--dcutr).
    dcutr: Toggle<dcutr::Behaviour>,
    /// `/keel-test/file/1.0.0`: served with --serve-file, always requested by `fetch`.
    files: files::Behaviour,
}

#[derive(Clone, Copy, Debug)]
pub enum KadMode {
    Server,
    Client,
    ClientThenServer(Duration),
}

pub struct NodeConfig {
    pub keypair: Keypair,
    pub listen: Vec<Multiaddr>,
    pub agent: Option<String>,
    pub protocol_version: String,
    pub kad_protocol: StreamProtocol,
    pub kad_mode: KadMode,
    pub idle_timeout: Duration,
    pub relay_server: bool,
    /// Ping interval (None: the version's default, 15 s).
    pub ping_interval: Option<Duration>,
    pub dcutr: bool,
    /// Disconnect peers whose agentVersion is not PREFIX/<version> (--agent-check).
    pub agent_check: Option<String>,
    /// Serve `/keel-test/file/1.0.0` with a file of this many bytes (--serve-file).
    pub serve_file: Option<usize>,
    /// Timeout of a `/keel-test/file/1.0.0` request.
    pub request_timeout: Duration,
    /// --quiet-events: no connected / disconnected / identify lines.
    pub quiet_events: bool,
    /// Keep what the actions read about each peer (open connections and their addresses, known
    /// addresses, identify results). Off for a quiet peer without actions (a bootstrap under
    /// load): nothing per peer is kept beyond what rust-libp2p keeps.
    pub peer_records: bool,
}

/// A reservation accepted by a relay (the reserve action).
#[derive(Clone, Debug)]
pub struct ReserveInfo {
    /// `<relay addr>/p2p-circuit` addresses of the listener, without our /p2p.
    pub circuit_addrs: Vec<Multiaddr>,
    pub limit_duration_s: Option<u64>,
    pub limit_data: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct IdInfo {
    pub protocol_version: String,
    pub agent_version: String,
    pub protocols: Vec<String>,
    pub listen_addrs: Vec<String>,
    pub observed_addr: String,
}

/// A file fetched over `/keel-test/file/1.0.0`.
pub struct Fetched {
    pub data: Arc<Vec<u8>>,
    /// The response came on a connection whose remote address holds /p2p-circuit.
    pub relayed: bool,
}

pub type Reply<T> = oneshot::Sender<Result<T, String>>;

pub enum Cmd {
    Dial {
        peer: PeerId,
        addr: Multiaddr,
        reply: Reply<()>,
    },
    Identify {
        peer: PeerId,
        reply: oneshot::Sender<IdInfo>,
    },
    KadAddAddress {
        peer: PeerId,
        addr: Multiaddr,
    },
    Bootstrap {
        reply: Reply<usize>,
    },
    RoutingTable {
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    Provide {
        key: Vec<u8>,
        reply: Reply<()>,
    },
    FindProviders {
        key: Vec<u8>,
        reply: Reply<Vec<(PeerId, Vec<Multiaddr>)>>,
    },
    PutRecord {
        key: Vec<u8>,
        value: Vec<u8>,
        reply: Reply<()>,
    },
    GetRecord {
        key: Vec<u8>,
        reply: Reply<Vec<u8>>,
    },
    FindPeer {
        peer: PeerId,
        reply: Reply<Vec<Multiaddr>>,
    },
    Connections {
        peer: PeerId,
        reply: oneshot::Sender<Vec<ConnectionId>>,
    },
    AnyOpen {
        ids: Vec<ConnectionId>,
        reply: oneshot::Sender<bool>,
    },
    Reserve {
        relay: PeerId,
        addr: Multiaddr,
        reply: Reply<ReserveInfo>,
    },
    /// Reserve on the relay and keep the reservation for the process lifetime.
    KeepReserved {
        relay: PeerId,
        addr: Multiaddr,
        reply: Reply<ReserveInfo>,
    },
    /// Reservations accepted so far (renewals not counted).
    Reservations {
        reply: oneshot::Sender<u64>,
    },
    /// Connect to `peer` at the addresses known (find-providers, identify, Kademlia).
    DialKnown {
        peer: PeerId,
        reply: Reply<()>,
    },
    Fetch {
        peer: PeerId,
        name: String,
        reply: Reply<Fetched>,
    },
}

/// A reservation kept by keep-reserved.
struct Keep {
    relay: PeerId,
    /// The relay's address, without /p2p/RELAY.
    addr: Multiaddr,
    /// The `/p2p-circuit` listener while it is open.
    listener: Option<ListenerId>,
    /// Our dial to the relay in flight.
    dialing: Option<ConnectionId>,
    /// Reservations accepted (renewals not counted).
    n: u64,
    /// When the relay connection (or the listener) was lost; cleared by the next reservation.
    lost_at: Option<Instant>,
    /// The keep-reserved action, until the first reservation.
    first: Option<Reply<ReserveInfo>>,
}

enum Pending {
    /// The reply and the successful requests seen so far (over all steps).
    Bootstrap(Reply<usize>, u32),
    Provide(Reply<()>),
    FindProviders(Reply<Vec<(PeerId, Vec<Multiaddr>)>>),
    Put(Reply<()>),
    Get(Reply<Vec<u8>>),
    FindPeer(PeerId, Reply<Vec<Multiaddr>>),
}

pub struct Node {
    swarm: Swarm<Behaviour>,
    local: PeerId,
    kad_protocol: StreamProtocol,
    kad_mode: KadMode,
    listeners: HashSet<libp2p::core::transport::ListenerId>,
    listen_addrs: HashMap<libp2p::core::transport::ListenerId, Vec<Multiaddr>>,
    wildcard_listen: bool,
    identified: HashMap<PeerId, IdInfo>,
    id_waiters: HashMap<PeerId, Vec<oneshot::Sender<IdInfo>>>,
    conns: HashMap<PeerId, Vec<ConnectionId>>,
    known_addrs: HashMap<PeerId, Vec<Multiaddr>>,
    dials: HashMap<ConnectionId, Reply<()>>,
    queries: HashMap<QueryId, Pending>,
    relay_server: bool,
    /// Reserve actions waiting for ReservationReqAccepted: listener, relay, reply.
    reserves: Vec<(
        libp2p::core::transport::ListenerId,
        PeerId,
        Reply<ReserveInfo>,
    )>,
    keeps: Vec<Keep>,
    /// Reservations accepted in total (renewals not counted).
    reserved_total: u64,
    agent_check: Option<String>,
    /// The file served with --serve-file.
    serve: Option<Arc<Vec<u8>>>,
    /// Remote address of each open connection.
    conn_addrs: HashMap<ConnectionId, Multiaddr>,
    /// Fetches waiting for their response; 0.53: the connection the request went on.
    fetches: HashMap<OutboundRequestId, (Reply<Fetched>, Option<ConnectionId>)>,
    quiet_events: bool,
    /// Keep `conns`, `conn_addrs`, `known_addrs` and `identified` (see NodeConfig).
    peer_records: bool,
}

/// Builds the swarm and starts listening. Returns the node and the raw-stream control.
pub fn build(cfg: NodeConfig) -> Result<(Node, rawstream::Control), String> {
    let local = cfg.keypair.public().to_peer_id();
    let mut control = None;
    let kad_protocol = cfg.kad_protocol.clone();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(cfg.keypair.clone())
        .with_tokio()
        .with_tcp(
            // The listen backlog as go-libp2p and Keel have it (the kernel's somaxconn, 4096 on
            // Linux since 5.4; rust-libp2p's default is 1024), so that a burst of dials is not
            // dropped by the kernel sooner than on those.
            tcp::Config::default().listen_backlog(LISTEN_BACKLOG),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| format!("transport: {e}"))?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| format!("relay client transport: {e}"))?
        .with_behaviour(|key, relay_client| {
            let mut id_cfg = identify::Config::new(cfg.protocol_version.clone(), key.public());
            if let Some(agent) = &cfg.agent {
                id_cfg = id_cfg.with_agent_version(agent.clone());
            }
            let kad_cfg = kad_config(kad_protocol.clone());
            let mut kad = kad::Behaviour::with_config(local, MemoryStore::new(local), kad_cfg);
            kad.set_mode(Some(match cfg.kad_mode {
                KadMode::Server => Mode::Server,
                _ => Mode::Client,
            }));
            let (raw, ctl) = rawstream::Behaviour::new();
            control = Some(ctl);
            let mut ping_cfg = ping::Config::new();
            if let Some(d) = cfg.ping_interval {
                ping_cfg = ping_cfg.with_interval(d);
            }
            Behaviour {
                identify: identify::Behaviour::new(id_cfg),
                ping: ping::Behaviour::new(ping_cfg),
                kad,
                raw,
                relay: Toggle::from(
                    cfg.relay_server
                        .then(|| relay::Behaviour::new(local, relay_config())),
                ),
                relay_client,
                dcutr: Toggle::from(cfg.dcutr.then(|| dcutr::Behaviour::new(local))),
                files: files::behaviour(cfg.serve_file.is_some(), cfg.request_timeout),
            }
        })
        .map_err(|e| format!("behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(cfg.idle_timeout))
        .build();

    let mut listeners = HashSet::new();
    let mut wildcard_listen = false;
    for ma in &cfg.listen {
        wildcard_listen |= ma.iter().any(|p| match p {
            Protocol::Ip4(ip) => ip.is_unspecified(),
            Protocol::Ip6(ip) => ip.is_unspecified(),
            _ => false,
        });
        let id = swarm
            .listen_on(ma.clone())
            .map_err(|e| format!("listen on {ma}: {e}"))?;
        listeners.insert(id);
    }
    let node = Node {
        swarm,
        local,
        kad_protocol: cfg.kad_protocol,
        kad_mode: cfg.kad_mode,
        listeners,
        listen_addrs: HashMap::new(),
        wildcard_listen,
        identified: HashMap::new(),
        id_waiters: HashMap::new(),
        conns: HashMap::new(),
        known_addrs: HashMap::new(),
        dials: HashMap::new(),
        queries: HashMap::new(),
        relay_server: cfg.relay_server,
        reserves: Vec::new(),
        keeps: Vec::new(),
        reserved_total: 0,
        agent_check: cfg.agent_check,
        serve: cfg.serve_file.map(|n| Arc::new(files::content(&local, n))),
        conn_addrs: HashMap::new(),
        fetches: HashMap::new(),
        quiet_events: cfg.quiet_events,
        peer_records: cfg.peer_records,
    };
    Ok((node, control.expect("behaviour built")))
}

/// The TCP listen backlog (the kernel caps it at net.core.somaxconn).
const LISTEN_BACKLOG: u32 = 4096;

/// rust-libp2p's relay defaults (128 reservations, 16 circuits, 2 min and 128 KiB per
/// circuit, rate limits per peer and IP) with the per-circuit limits raised for the tests:
/// 10 min and 64 MiB.
fn relay_config() -> relay::Config {
    relay::Config {
        max_circuit_duration: Duration::from_secs(600),
        max_circuit_bytes: 64 << 20,
        ..Default::default()
    }
}

/// `ma` without its last component when that is /p2p/`peer` (a /p2p-circuit address keeps the
/// relay's /p2p).
fn without_last_p2p(ma: &Multiaddr, peer: PeerId) -> Multiaddr {
    let mut out = ma.clone();
    if let Some(Protocol::P2p(p)) = out.iter().last() {
        if p == peer {
            out.pop();
        }
    }
    out
}

#[cfg(feature = "v053")]
fn kad_config(protocol: StreamProtocol) -> kad::Config {
    #[allow(deprecated)]
    let mut c = kad::Config::default();
    c.set_protocol_names(vec![protocol]);
    c
}

#[cfg(feature = "v056")]
fn kad_config(protocol: StreamProtocol) -> kad::Config {
    kad::Config::new(protocol)
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

fn without_p2p(ma: &Multiaddr) -> Multiaddr {
    ma.iter()
        .filter(|p| !matches!(p, Protocol::P2p(_)))
        .collect()
}

fn is_relayed(ma: &Multiaddr) -> bool {
    ma.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// `agent` is `prefix/<version>` as Chiral checks it: after "prefix/" an optional "v", then at
/// least one of [0-9.] (anything may follow: "chiral/2.0.0-keel" passes).
pub fn agent_ok(prefix: &str, agent: &str) -> bool {
    let Some(rest) = agent
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    rest.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// The connection a 0.26 request-response behaviour (libp2p 0.53) sends request `id` on: it
/// picks `connections[id % len]` of the peer's connections in the order they were
/// established, which is our `conns` order. Its events do not name the connection.
#[cfg(feature = "v053")]
fn request_connection(
    conns: &HashMap<PeerId, Vec<ConnectionId>>,
    peer: &PeerId,
    id: OutboundRequestId,
) -> Option<ConnectionId> {
    let n: usize = id.to_string().parse().ok()?;
    let v = conns.get(peer).filter(|v| !v.is_empty())?;
    v.get(n % v.len()).copied()
}

/// 0.56's events name the connection: see [`response_connection`].
#[cfg(feature = "v056")]
fn request_connection(
    _conns: &HashMap<PeerId, Vec<ConnectionId>>,
    _peer: &PeerId,
    _id: OutboundRequestId,
) -> Option<ConnectionId> {
    None
}

type FilesEvent = request_response::Event<String, Arc<Vec<u8>>>;

/// The connection a request-response message came on (0.56; 0.53 does not say).
#[cfg(feature = "v056")]
fn response_connection(ev: &FilesEvent) -> Option<ConnectionId> {
    match ev {
        request_response::Event::Message { connection_id, .. } => Some(*connection_id),
        _ => None,
    }
}

#[cfg(feature = "v053")]
fn response_connection(_ev: &FilesEvent) -> Option<ConnectionId> {
    None
}

impl Node {
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// Runs forever. `ready` fires once the listening event was printed (at once without
    /// listeners).
    pub async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Cmd>, ready: oneshot::Sender<()>) {
        let mut ready = Some(ready);
        // Without listeners the node is ready straight away.
        let mut listening_at: Option<tokio::time::Instant> = None;
        if self.listeners.is_empty() {
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
        }
        let mode_switch = match self.kad_mode {
            KadMode::ClientThenServer(d) => Some(tokio::time::Instant::now() + d),
            _ => None,
        };
        let mode_sleep = tokio::time::sleep_until(
            mode_switch.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86400)),
        );
        tokio::pin!(mode_sleep);
        let mut mode_pending = mode_switch.is_some();
        // keep-reserved: redial / listen again every 250 ms while a kept reservation is down.
        let mut keep_tick = tokio::time::interval(Duration::from_millis(250));
        keep_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let listen_deadline = listening_at;
            tokio::select! {
                ev = self.swarm.select_next_some() => {
                    self.on_event(ev);
                    if ready.is_some() && listening_at.is_none()
                        && self.listeners.iter().all(|l| self.listen_addrs.contains_key(l))
                    {
                        // A wildcard listener reports one address per interface: give the
                        // rest a moment to arrive so the first line lists them all.
                        let wait = if self.wildcard_listen { 300 } else { 0 };
                        listening_at = Some(tokio::time::Instant::now() + Duration::from_millis(wait));
                    }
                }
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => self.on_cmd(cmd),
                    None => return,
                },
                _ = keep_tick.tick(), if !self.keeps.is_empty() => self.keep_tick(),
                _ = &mut mode_sleep, if mode_pending => {
                    mode_pending = false;
                    debug("kad: switching to server mode");
                    self.swarm.behaviour_mut().kad.set_mode(Some(Mode::Server));
                }
                _ = async { tokio::time::sleep_until(listen_deadline.unwrap()).await },
                    if listen_deadline.is_some() && ready.is_some() =>
                {
                    self.emit_listening();
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
            }
        }
    }

    fn emit_listening(&self) {
        let mut addrs: Vec<String> = Vec::new();
        for l in &self.listeners {
            for a in self.listen_addrs.get(l).into_iter().flatten() {
                push_unique(&mut addrs, format!("{}/p2p/{}", a, self.local));
            }
        }
        emit(json!({"event": "listening", "peer_id": self.local.to_string(), "addrs": addrs}));
    }

    fn routing_table(&mut self) -> Vec<PeerId> {
        let mut out = Vec::new();
        for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
            for e in bucket.iter() {
                out.push(*e.node.key.preimage());
            }
        }
        out
    }

    fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Dial { peer, addr, reply } => {
                if self.conns.get(&peer).is_some_and(|v| !v.is_empty()) {
                    let _ = reply.send(Ok(()));
                    return;
                }
                self.dial_at(peer, vec![without_last_p2p(&addr, peer)], reply);
            }
            Cmd::Identify { peer, reply } => match self.identified.get(&peer) {
                Some(info) => {
                    let _ = reply.send(info.clone());
                }
                None => self.id_waiters.entry(peer).or_default().push(reply),
            },
            Cmd::KadAddAddress { peer, addr } => {
                self.swarm
                    .behaviour_mut()
                    .kad
                    .add_address(&peer, without_p2p(&addr));
            }
            Cmd::Bootstrap { reply } => match self.swarm.behaviour_mut().kad.bootstrap() {
                Ok(id) => {
                    self.queries.insert(id, Pending::Bootstrap(reply, 0));
                }
                Err(e) => {
                    let _ = reply.send(Err(format!("bootstrap: {e}")));
                }
            },
            Cmd::RoutingTable { reply } => {
                let _ = reply.send(self.routing_table());
            }
            Cmd::Provide { key, reply } => {
                if self.routing_table().is_empty() {
                    let _ = reply.send(Err("routing table is empty".into()));
                    return;
                }
                match self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .start_providing(RecordKey::new(&key))
                {
                    Ok(id) => {
                        self.queries.insert(id, Pending::Provide(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(format!("start_providing: {e}")));
                    }
                }
            }
            Cmd::FindProviders { key, reply } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .get_providers(RecordKey::new(&key));
                self.queries.insert(id, Pending::FindProviders(reply));
            }
            Cmd::PutRecord { key, value, reply } => {
                if self.routing_table().is_empty() {
                    let _ = reply.send(Err("routing table is empty".into()));
                    return;
                }
                let record = Record::new(RecordKey::new(&key), value);
                match self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .put_record(record, Quorum::One)
                {
                    Ok(id) => {
                        self.queries.insert(id, Pending::Put(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(format!("put_record: {e}")));
                    }
                }
            }
            Cmd::GetRecord { key, reply } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .get_record(RecordKey::new(&key));
                self.queries.insert(id, Pending::Get(reply));
            }
            Cmd::FindPeer { peer, reply } => {
                let id = self.swarm.behaviour_mut().kad.get_closest_peers(peer);
                self.queries.insert(id, Pending::FindPeer(peer, reply));
            }
            Cmd::Connections { peer, reply } => {
                let _ = reply.send(self.conns.get(&peer).cloned().unwrap_or_default());
            }
            Cmd::AnyOpen { ids, reply } => {
                let open = self.conns.values().flatten().any(|c| ids.contains(c));
                let _ = reply.send(open);
            }
            Cmd::Reserve { relay, addr, reply } => {
                // The relay client dials the relay (or uses the open connection) and sends
                // RESERVE; ReservationReqAccepted answers, a closed listener is the failure.
                let circuit = addr.with(Protocol::P2pCircuit);
                match self.swarm.listen_on(circuit.clone()) {
                    Ok(id) => self.reserves.push((id, relay, reply)),
                    Err(e) => {
                        let _ = reply.send(Err(format!("listen on {circuit}: {e}")));
                    }
                }
            }
            Cmd::KeepReserved { relay, addr, reply } => {
                if self.keeps.iter().any(|k| k.relay == relay) {
                    let _ = reply.send(Err(format!("already keeping a reservation on {relay}")));
                    return;
                }
                self.keeps.push(Keep {
                    relay,
                    addr: without_last_p2p(&addr, relay),
                    listener: None,
                    dialing: None,
                    n: 0,
                    lost_at: None,
                    first: Some(reply),
                });
                self.keep_tick();
            }
            Cmd::Reservations { reply } => {
                let _ = reply.send(self.reserved_total);
            }
            Cmd::DialKnown { peer, reply } => {
                if self.connected(&peer) {
                    let _ = reply.send(Ok(()));
                    return;
                }
                let mut addrs = self.known_addrs.get(&peer).cloned().unwrap_or_default();
                for a in self.kad_addrs(peer) {
                    push_unique(&mut addrs, a);
                }
                if addrs.is_empty() {
                    let _ = reply.send(Err(format!(
                        "no known address of {peer} (give MA, or learn it first: find-providers, find-peer, identify)"
                    )));
                    return;
                }
                debugf!("dialing {peer} at {addrs:?}");
                self.dial_at(peer, addrs, reply);
            }
            Cmd::Fetch { peer, name, reply } => {
                if !self.connected(&peer) {
                    let _ = reply.send(Err(format!("not connected to {peer}")));
                    return;
                }
                let id = self.swarm.behaviour_mut().files.send_request(&peer, name);
                let conn = request_connection(&self.conns, &peer, id);
                self.fetches.insert(id, (reply, conn));
            }
        }
    }

    /// Dials `peer` at `addrs` (a new connection even if one is open); `reply` answers once
    /// the dial ends.
    fn dial_at(&mut self, peer: PeerId, addrs: Vec<Multiaddr>, reply: Reply<()>) {
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::Always)
            .build();
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.dials.insert(id, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(format!("dial: {e}")));
            }
        }
    }

    fn connected(&self, peer: &PeerId) -> bool {
        self.conns.get(peer).is_some_and(|v| !v.is_empty())
    }

    /// The addresses Kademlia would dial `peer` at: its routing-table entry and the addresses
    /// that running queries learned (e.g. a provider record's, while its lookup runs). Neither
    /// 0.53 nor 0.56 exposes the latter otherwise; asking the behaviour has no side effect.
    fn kad_addrs(&mut self, peer: PeerId) -> Vec<Multiaddr> {
        let kad = &mut self.swarm.behaviour_mut().kad;
        let addrs = NetworkBehaviour::handle_pending_outbound_connection(
            kad,
            ConnectionId::new_unchecked(usize::MAX),
            Some(peer),
            &[],
            Endpoint::Dialer,
        )
        .unwrap_or_default();
        let mut out = Vec::new();
        for a in &addrs {
            push_unique(&mut out, without_last_p2p(a, peer));
        }
        out
    }

    /// keep-reserved: for each kept reservation that is down, listen on the relay's
    /// /p2p-circuit address again if connected to the relay, else dial the relay.
    fn keep_tick(&mut self) {
        for i in 0..self.keeps.len() {
            if self.keeps[i].listener.is_some() {
                continue;
            }
            let relay = self.keeps[i].relay;
            if self.connected(&relay) {
                self.keep_listen(i);
            } else if self.keeps[i].dialing.is_none() {
                let opts = DialOpts::peer_id(relay)
                    .addresses(vec![self.keeps[i].addr.clone()])
                    .condition(PeerCondition::Always)
                    .build();
                let id = opts.connection_id();
                match self.swarm.dial(opts) {
                    Ok(()) => self.keeps[i].dialing = Some(id),
                    Err(e) => debugf!("keep-reserved: dial {relay}: {e}"),
                }
            }
        }
    }

    fn keep_listen(&mut self, i: usize) {
        let k = &self.keeps[i];
        let circuit = k
            .addr
            .clone()
            .with(Protocol::P2p(k.relay))
            .with(Protocol::P2pCircuit);
        match self.swarm.listen_on(circuit.clone()) {
            Ok(id) => {
                debugf!("keep-reserved: listening on {circuit}");
                self.keeps[i].listener = Some(id);
            }
            Err(e) => debugf!("keep-reserved: listen on {circuit}: {e}"),
        }
    }

    /// A kept reservation went down (connection to the relay lost, listener closed).
    fn keep_lost(&mut self, i: usize) {
        let k = &mut self.keeps[i];
        if let Some(l) = k.listener.take() {
            self.listen_addrs.remove(&l);
        }
        if k.n > 0 && k.lost_at.is_none() {
            k.lost_at = Some(Instant::now());
        }
    }

    fn on_files(&mut self, ev: FilesEvent) {
        let conn = response_connection(&ev);
        match ev {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    debugf!("file request {request:?} from {peer}");
                    if let Some(data) = self.serve.clone() {
                        if self
                            .swarm
                            .behaviour_mut()
                            .files
                            .send_response(channel, data)
                            .is_err()
                        {
                            debugf!("file response to {peer}: channel closed");
                        }
                    }
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some((reply, guess)) = self.fetches.remove(&request_id) {
                        let relayed = conn
                            .or(guess)
                            .and_then(|c| self.conn_addrs.get(&c))
                            .is_some_and(is_relayed);
                        let _ = reply.send(Ok(Fetched {
                            data: response,
                            relayed,
                        }));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some((reply, _)) = self.fetches.remove(&request_id) {
                    let _ = reply.send(Err(format!("request to {peer} failed: {error}")));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debugf!("file request from {peer} failed: {error}");
            }
            request_response::Event::ResponseSent { peer, .. } => {
                debugf!("file sent to {peer}");
            }
        }
    }

    fn on_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
                ..
            } => {
                debugf!("listening on {address}");
                // rust-libp2p's relay server puts only confirmed external addresses in a
                // reservation (and its client refuses a reservation without any): a relay
                // server announces its own listen addresses as external.
                if self.relay_server && self.listeners.contains(&listener_id) {
                    self.swarm.add_external_address(address.clone());
                }
                push_unique(self.listen_addrs.entry(listener_id).or_default(), address);
            }
            // A listener that closes before its first address: the node cannot listen.
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } if self.listeners.contains(&listener_id)
                && !self.listen_addrs.contains_key(&listener_id) =>
            {
                emit(json!({"event": "error", "error": format!("listener closed: {reason:?}")}));
                std::process::exit(1);
            }
            // A relay listener closing before its reservation was accepted: the reserve failed.
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } if self.reserves.iter().any(|(l, _, _)| *l == listener_id) => {
                let i = self
                    .reserves
                    .iter()
                    .position(|(l, _, _)| *l == listener_id)
                    .expect("present");
                let (_, _, reply) = self.reserves.remove(i);
                let _ = reply.send(Err(format!("reservation failed: {reason:?}")));
            }
            // A kept reservation's listener closed (connection to the relay lost, reservation
            // refused or failed): keep_tick listens again.
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } if self.keeps.iter().any(|k| k.listener == Some(listener_id)) => {
                debugf!("keep-reserved: listener closed: {reason:?}");
                let i = self
                    .keeps
                    .iter()
                    .position(|k| k.listener == Some(listener_id))
                    .expect("present");
                self.keep_lost(i);
            }
            SwarmEvent::ListenerError { listener_id, error }
                if self.keeps.iter().any(|k| k.listener == Some(listener_id)) =>
            {
                debugf!("keep-reserved: listener error: {error}");
                let i = self
                    .keeps
                    .iter()
                    .position(|k| k.listener == Some(listener_id))
                    .expect("present");
                self.swarm.remove_listener(listener_id);
                self.keep_lost(i);
            }
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(ev)) => {
                debugf!("relay client: {ev:?}");
                if let relay::client::Event::ReservationReqAccepted {
                    relay_peer_id,
                    limit,
                    renewal,
                } = ev
                {
                    let limit_duration_s = limit.and_then(|l| l.duration()).map(|d| d.as_secs());
                    let limit_data = limit.and_then(|l| l.data_in_bytes());
                    if !renewal {
                        self.reserved_total += 1;
                    }
                    if let Some(i) = self
                        .keeps
                        .iter()
                        .position(|k| k.relay == relay_peer_id)
                        .filter(|_| !renewal)
                    {
                        let k = &mut self.keeps[i];
                        k.n += 1;
                        let since = k
                            .lost_at
                            .take()
                            .map(|t| t.elapsed().as_millis() as u64);
                        emit(json!({
                            "event": "reserved",
                            "relay": relay_peer_id.to_string(),
                            "n": k.n,
                            "since_disconnect_ms": since,
                        }));
                        if let Some(reply) = k.first.take() {
                            let circuit_addrs = k
                                .listener
                                .and_then(|l| self.listen_addrs.get(&l).cloned())
                                .unwrap_or_default();
                            let _ = reply.send(Ok(ReserveInfo {
                                circuit_addrs,
                                limit_duration_s,
                                limit_data,
                            }));
                        }
                    }
                    while let Some(i) = self
                        .reserves
                        .iter()
                        .position(|(_, r, _)| *r == relay_peer_id)
                    {
                        let (listener, _, reply) = self.reserves.remove(i);
                        let circuit_addrs = self
                            .listen_addrs
                            .get(&listener)
                            .cloned()
                            .unwrap_or_default();
                        let _ = reply.send(Ok(ReserveInfo {
                            circuit_addrs,
                            limit_duration_s,
                            limit_data,
                        }));
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(ev)) => {
                debugf!("relay server: {ev:?}");
            }
            SwarmEvent::ListenerError { error, .. } => {
                debugf!("listener error: {error}");
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                debugf!("connection {connection_id:?} to {peer_id} established ({endpoint:?})");
                if self.peer_records {
                    push_unique(self.conns.entry(peer_id).or_default(), connection_id);
                    self.conn_addrs
                        .insert(connection_id, endpoint.get_remote_address().clone());
                    if endpoint.is_dialer() {
                        let a = without_last_p2p(endpoint.get_remote_address(), peer_id);
                        push_unique(self.known_addrs.entry(peer_id).or_default(), a);
                    }
                }
                if num_established.get() == 1 && !self.quiet_events {
                    emit(json!({"event": "connected", "peer": peer_id.to_string()}));
                }
                if let Some(reply) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Ok(()));
                }
                for i in 0..self.keeps.len() {
                    let k = &mut self.keeps[i];
                    if k.relay != peer_id {
                        continue;
                    }
                    if k.dialing == Some(connection_id) {
                        k.dialing = None;
                    }
                    if k.listener.is_none() && !endpoint.is_relayed() {
                        self.keep_listen(i);
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => {
                debugf!("connection {connection_id:?} to {peer_id} closed: {cause:?}");
                if let Some(v) = self.conns.get_mut(&peer_id) {
                    v.retain(|c| *c != connection_id);
                    if v.is_empty() {
                        self.conns.remove(&peer_id);
                    }
                }
                self.conn_addrs.remove(&connection_id);
                if num_established == 0 {
                    if !self.quiet_events {
                        emit(json!({"event": "disconnected", "peer": peer_id.to_string()}));
                    }
                    // A kept reservation's relay: drop the listener (its reservation went with
                    // the connection) and reconnect.
                    for i in 0..self.keeps.len() {
                        if self.keeps[i].relay == peer_id {
                            if let Some(l) = self.keeps[i].listener {
                                self.swarm.remove_listener(l);
                            }
                            self.keep_lost(i);
                        }
                    }
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                debugf!("outgoing connection {connection_id:?} failed: {error}");
                if let Some(reply) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Err(format!("dial: {error}")));
                }
                for k in self.keeps.iter_mut() {
                    if k.dialing == Some(connection_id) {
                        k.dialing = None;
                    }
                }
            }
            SwarmEvent::IncomingConnectionError { error, .. } => {
                debugf!("incoming connection failed: {error}");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(ev)) => self.on_identify(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(ev)) => self.on_kad(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ev)) => {
                debugf!("ping {}: {:?}", ev.peer, ev.result);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(ev)) => {
                let (ok, error) = match &ev.result {
                    Ok(_) => (true, None),
                    Err(e) => (false, Some(e.to_string())),
                };
                emit(json!({
                    "event": "dcutr",
                    "peer": ev.remote_peer_id.to_string(),
                    "ok": ok,
                    "error": error,
                }));
            }
            SwarmEvent::Behaviour(BehaviourEvent::Files(ev)) => self.on_files(ev),
            _ => {}
        }
    }

    fn on_identify(&mut self, ev: identify::Event) {
        match ev {
            identify::Event::Received { peer_id, info, .. } => {
                if !self.quiet_events {
                    let protocols: Vec<String> =
                        info.protocols.iter().map(|p| p.to_string()).collect();
                    emit(json!({
                        "event": "identify",
                        "peer": peer_id.to_string(),
                        "agent_version": info.agent_version,
                        "protocols": protocols,
                    }));
                }
                // --agent-check: as Chiral does, disconnect a peer of another agent.
                let rejected = self
                    .agent_check
                    .as_deref()
                    .is_some_and(|prefix| !agent_ok(prefix, &info.agent_version));
                if rejected {
                    emit(json!({
                        "event": "agent-rejected",
                        "peer": peer_id.to_string(),
                        "agent": info.agent_version,
                    }));
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                }
                // As rust-libp2p applications do: a peer announcing our Kademlia protocol goes
                // into the routing table with its listen addresses.
                if !rejected && info.protocols.contains(&self.kad_protocol) {
                    for a in &info.listen_addrs {
                        let a = without_last_p2p(a, peer_id);
                        self.swarm
                            .behaviour_mut()
                            .kad
                            .add_address(&peer_id, a.clone());
                    }
                }
                if !self.peer_records {
                    return;
                }
                for a in info.listen_addrs.iter().filter(|_| !rejected) {
                    push_unique(
                        self.known_addrs.entry(peer_id).or_default(),
                        without_last_p2p(a, peer_id),
                    );
                }
                let id = IdInfo {
                    protocol_version: info.protocol_version,
                    agent_version: info.agent_version,
                    protocols: info.protocols.iter().map(|p| p.to_string()).collect(),
                    listen_addrs: info.listen_addrs.iter().map(|a| a.to_string()).collect(),
                    observed_addr: info.observed_addr.to_string(),
                };
                if let Some(waiters) = self.id_waiters.remove(&peer_id) {
                    for w in waiters {
                        let _ = w.send(id.clone());
                    }
                }
                self.identified.insert(peer_id, id);
            }
            identify::Event::Error { peer_id, error, .. } => {
                debugf!("identify with {peer_id} failed: {error}");
            }
            _ => {}
        }
    }

    fn finish_query(&mut self, id: QueryId) {
        if let Some(mut q) = self.swarm.behaviour_mut().kad.query_mut(&id) {
            q.finish();
        }
    }

    fn on_kad(&mut self, ev: kad::Event) {
        let kad::Event::OutboundQueryProgressed {
            id,
            result,
            step,
            stats,
        } = ev
        else {
            debugf!("kad: {ev:?}");
            return;
        };
        let last = step.last;
        let Some(pending) = self.queries.remove(&id) else {
            return;
        };
        // Each arm either answers (the entry stays removed) or puts it back to wait for more.
        match (pending, result) {
            (Pending::Bootstrap(reply, ok), QueryResult::Bootstrap(r)) => {
                let ok = ok + stats.num_successes();
                if !last {
                    self.queries.insert(id, Pending::Bootstrap(reply, ok));
                    return;
                }
                let n = self.routing_table().len();
                // rust-libp2p reports a bootstrap as Ok even when no peer answered (e.g. the
                // only known peer does not speak our Kademlia protocol): that is a failure here.
                let r = match r {
                    Ok(_) if ok == 0 => Err(format!(
                        "bootstrap: no peer answered ({} requests failed)",
                        stats.num_failures()
                    )),
                    Ok(_) => Ok(n),
                    Err(e) => Err(format!("bootstrap: {e}")),
                };
                let _ = reply.send(r);
            }
            (Pending::Provide(reply), QueryResult::StartProviding(r)) => {
                if !last {
                    self.queries.insert(id, Pending::Provide(reply));
                    return;
                }
                let _ = reply.send(r.map(|_| ()).map_err(|e| format!("provide: {e}")));
            }
            (Pending::FindProviders(reply), QueryResult::GetProviders(r)) => {
                if let Ok(kad::GetProvidersOk::FoundProviders { providers, .. }) = &r {
                    if !providers.is_empty() {
                        // The provider records' addresses are only inside the running query
                        // (both versions): take them before finishing it, and keep them for a
                        // later dial (fetch without MA).
                        let mut found = Vec::new();
                        for p in providers.iter().copied() {
                            let addrs = self.kad_addrs(p);
                            for a in &addrs {
                                push_unique(self.known_addrs.entry(p).or_default(), a.clone());
                                self.swarm.add_peer_address(p, a.clone());
                            }
                            found.push((p, addrs));
                        }
                        let _ = reply.send(Ok(found));
                        self.finish_query(id);
                        return;
                    }
                }
                if !last {
                    self.queries.insert(id, Pending::FindProviders(reply));
                    return;
                }
                let _ = reply.send(Err(match r {
                    Err(e) => format!("no provider found: {e}"),
                    Ok(_) => "no provider found".to_string(),
                }));
            }
            (Pending::Put(reply), QueryResult::PutRecord(r)) => {
                if !last {
                    self.queries.insert(id, Pending::Put(reply));
                    return;
                }
                let _ = reply.send(r.map(|_| ()).map_err(|e| format!("put_record: {e}")));
            }
            (Pending::Get(reply), QueryResult::GetRecord(r)) => {
                if let Ok(kad::GetRecordOk::FoundRecord(pr)) = &r {
                    let _ = reply.send(Ok(pr.record.value.clone()));
                    self.finish_query(id);
                    return;
                }
                if !last {
                    self.queries.insert(id, Pending::Get(reply));
                    return;
                }
                let _ = reply.send(Err(match r {
                    Err(e) => format!("get_record: {e}"),
                    Ok(_) => "record not found".to_string(),
                }));
            }
            (Pending::FindPeer(target, reply), QueryResult::GetClosestPeers(r)) => {
                if !last {
                    self.queries.insert(id, Pending::FindPeer(target, reply));
                    return;
                }
                let mut addrs: Vec<Multiaddr> = Vec::new();
                let (found, err) = match r {
                    Ok(ok) => (closest_addrs(ok.peers, target, &mut addrs), None),
                    Err(kad::GetClosestPeersError::Timeout { peers, .. }) => (
                        closest_addrs(peers, target, &mut addrs),
                        Some("query timed out"),
                    ),
                };
                for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
                    for e in bucket.iter() {
                        if *e.node.key.preimage() == target {
                            for a in e.node.value.iter() {
                                push_unique(&mut addrs, without_p2p(a));
                            }
                        }
                    }
                }
                for a in self.known_addrs.get(&target).into_iter().flatten() {
                    push_unique(&mut addrs, a.clone());
                }
                let _ = if addrs.is_empty() {
                    reply.send(Err(format!(
                        "{target} not found{}",
                        err.map(|e| format!(" ({e})")).unwrap_or_default()
                    )))
                } else {
                    if !found {
                        debug("find-peer: target not among the closest peers; addresses known locally");
                    }
                    reply.send(Ok(addrs))
                };
            }
            (p, r) => {
                debugf!("kad: unexpected result for query {id:?}: {r:?}");
                if !last {
                    self.queries.insert(id, p);
                }
            }
        }
    }
}

/// Adds the target's addresses from the query result (0.56 returns them; 0.53 only peer IDs).
#[cfg(feature = "v053")]
fn closest_addrs(peers: Vec<PeerId>, target: PeerId, _addrs: &mut Vec<Multiaddr>) -> bool {
    peers.contains(&target)
}

#[cfg(feature = "v056")]
fn closest_addrs(peers: Vec<kad::PeerInfo>, target: PeerId, addrs: &mut Vec<Multiaddr>) -> bool {
    let mut found = false;
    for p in peers.into_iter().filter(|p| p.peer_id == target) {
        found = true;
        for a in p.addrs {
            push_unique(addrs, without_p2p(&a));
        }
    }
    found
}
