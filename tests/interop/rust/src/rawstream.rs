//! Raw byte streams: serves `/keel/echo/1.0.0` and opens outbound streams of any protocol.
//!
//! Why not `libp2p-stream` (0.1.0-alpha for 0.53, 0.4.0-alpha for 0.56, same code): its handler
//! negotiates one outbound stream at a time per connection (so `streams PEER 300` would be
//! serialized) and hands inbound streams over a channel with a single slot, dropping every
//! inbound stream that arrives while the slot is full (a burst of 300 streams from the other
//! side would lose most of them). This behaviour lets the connection negotiate any number of
//! outbound streams concurrently (yamux's own limits still apply: 256 unacknowledged outbound
//! streams, 512 streams per connection) and serves each inbound echo stream on its own task.
//!
//! The ConnectionHandler / NetworkBehaviour traits are the same in libp2p-swarm 0.44 (libp2p
//! 0.53) and 0.47 (libp2p 0.56) except for `port_use` in `handle_established_outbound_connection`.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::core::upgrade::ReadyUpgrade;
use libp2p::core::{Endpoint, Multiaddr};
use libp2p::swarm::handler::{
    ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound,
};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
    NetworkBehaviour, NotifyHandler, Stream, StreamProtocol, StreamUpgradeError, SubstreamProtocol,
    THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot};

pub const ECHO: StreamProtocol = StreamProtocol::new("/keel/echo/1.0.0");

type Reply = oneshot::Sender<Result<Stream, String>>;

pub struct OpenRequest {
    peer: PeerId,
    protocol: StreamProtocol,
    timeout: Duration,
    reply: Reply,
}

/// Cloneable handle to open outbound streams from any task.
#[derive(Clone)]
pub struct Control {
    tx: mpsc::UnboundedSender<OpenRequest>,
}

impl Control {
    /// Opens a stream for `protocol` on the oldest open connection to `peer` (no dial).
    pub async fn open(
        &self,
        peer: PeerId,
        protocol: StreamProtocol,
        timeout: Duration,
    ) -> Result<Stream, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(OpenRequest {
                peer,
                protocol,
                timeout,
                reply,
            })
            .map_err(|_| "node stopped".to_string())?;
        match rx.await {
            Ok(r) => r,
            Err(_) => Err("connection closed before the stream was opened".into()),
        }
    }
}

pub struct Behaviour {
    rx: mpsc::UnboundedReceiver<OpenRequest>,
    /// Open connections per peer, oldest first.
    connections: HashMap<PeerId, Vec<ConnectionId>>,
    events: VecDeque<ToSwarm<Infallible, Open>>,
}

impl Behaviour {
    pub fn new() -> (Self, Control) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Behaviour {
                rx,
                connections: HashMap::new(),
                events: VecDeque::new(),
            },
            Control { tx },
        )
    }

    fn add_connection(&mut self, peer: PeerId, id: ConnectionId) {
        let v = self.connections.entry(peer).or_default();
        if !v.contains(&id) {
            v.push(id);
        }
    }
}

/// FromBehaviour: open one stream.
pub struct Open {
    protocol: StreamProtocol,
    timeout: Duration,
    reply: Reply,
}

impl std::fmt::Debug for Open {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Open({})", self.protocol)
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        _local_addr: &Multiaddr,
        _remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.add_connection(peer, connection_id);
        Ok(Handler::default())
    }

    #[cfg(feature = "v053")]
    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        _addr: &Multiaddr,
        _role_override: Endpoint,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.add_connection(peer, connection_id);
        Ok(Handler::default())
    }

    #[cfg(feature = "v056")]
    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        _addr: &Multiaddr,
        _role_override: Endpoint,
        _port_use: libp2p::core::transport::PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.add_connection(peer, connection_id);
        Ok(Handler::default())
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        if let FromSwarm::ConnectionClosed(c) = event {
            if let Some(v) = self.connections.get_mut(&c.peer_id) {
                v.retain(|id| *id != c.connection_id);
                if v.is_empty() {
                    self.connections.remove(&c.peer_id);
                }
            }
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _peer_id: PeerId,
        _connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        while let Poll::Ready(Some(req)) = self.rx.poll_recv(cx) {
            match self.connections.get(&req.peer).and_then(|v| v.first()) {
                Some(conn) => self.events.push_back(ToSwarm::NotifyHandler {
                    peer_id: req.peer,
                    handler: NotifyHandler::One(*conn),
                    event: Open {
                        protocol: req.protocol,
                        timeout: req.timeout,
                        reply: req.reply,
                    },
                }),
                None => {
                    let _ = req
                        .reply
                        .send(Err(format!("not connected to {}", req.peer)));
                }
            }
        }
        match self.events.pop_front() {
            Some(e) => Poll::Ready(e),
            None => Poll::Pending,
        }
    }
}

#[derive(Default)]
pub struct Handler {
    queue: VecDeque<Open>,
}

impl ConnectionHandler for Handler {
    type FromBehaviour = Open;
    type ToBehaviour = Infallible;
    type InboundProtocol = ReadyUpgrade<StreamProtocol>;
    type OutboundProtocol = ReadyUpgrade<StreamProtocol>;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = Reply;

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol, Self::InboundOpenInfo> {
        SubstreamProtocol::new(ReadyUpgrade::new(ECHO), ())
    }

    fn poll(
        &mut self,
        _cx: &mut Context<'_>,
    ) -> Poll<
        ConnectionHandlerEvent<Self::OutboundProtocol, Self::OutboundOpenInfo, Self::ToBehaviour>,
    > {
        if let Some(open) = self.queue.pop_front() {
            return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest {
                protocol: SubstreamProtocol::new(ReadyUpgrade::new(open.protocol), open.reply)
                    .with_timeout(open.timeout),
            });
        }
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, event: Self::FromBehaviour) {
        self.queue.push_back(event);
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<
            Self::InboundProtocol,
            Self::OutboundProtocol,
            Self::InboundOpenInfo,
            Self::OutboundOpenInfo,
        >,
    ) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol, ..
            }) => {
                tokio::spawn(serve_echo(protocol));
            }
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol,
                info,
            }) => {
                let _ = info.send(Ok(protocol));
            }
            ConnectionEvent::DialUpgradeError(DialUpgradeError { info, error }) => {
                let msg = match error {
                    StreamUpgradeError::Timeout => "stream negotiation timed out".to_string(),
                    StreamUpgradeError::NegotiationFailed => {
                        "remote does not support the protocol".to_string()
                    }
                    StreamUpgradeError::Io(e) => format!("stream open failed: {e}"),
                    StreamUpgradeError::Apply(_) => "stream upgrade failed".to_string(),
                };
                let _ = info.send(Err(msg));
            }
            _ => {}
        }
    }
}

/// Writes back every byte read until the remote half-closes, then closes our side.
async fn serve_echo(mut stream: Stream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
    let _ = stream.close().await;
}
