package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

type node struct {
	cfg *config
	h   host.Host
	d   *dht.IpfsDHT
	ids *identifyStore
	rel *relay.Relay // the Circuit Relay v2 server (--relay-server), nil otherwise

	subs []event.Subscription
}

// ---------------------------------------------------------------------------
// Identity.

func identity(cfg *config) (crypto.PrivKey, error) {
	if !cfg.seedSet {
		priv, _, err := crypto.GenerateEd25519Key(nil)
		return priv, err
	}
	seed := sha256.Sum256([]byte("keel-interop-" + cfg.seed))
	return crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed[:]))
}

// ---------------------------------------------------------------------------
// Noise without the inlined muxer negotiation.
//
// go-libp2p's Noise transport (p2p/security/noise) always sends the
// NoiseExtensions.stream_muxers early data when it is built by libp2p's fx
// wiring (noise.New gets the host's muxers, and SecureInbound/SecureOutbound
// install an early-data handler that sends them). There is no option to turn
// that off, but the package's SessionTransport with no early-data handler
// runs the plain handshake: no extensions at all are sent, whatever the remote
// sends is ignored, ConnState().StreamMultiplexer stays empty, and the
// upgrader then negotiates the muxer with multistream-select over the secured
// connection (p2p/net/upgrader: setupMuxer falls back to negotiateMuxer).
func noiseWithoutInlineMuxer(id protocol.ID, priv crypto.PrivKey) (*noise.SessionTransport, error) {
	t, err := noise.New(id, priv, nil)
	if err != nil {
		return nil, err
	}
	return t.WithSessionOptions()
}

// ---------------------------------------------------------------------------
// Record validation.
//
// The contract asks go for a permissive validator for the namespace of the
// put-value key. A go node can only know that namespace when it runs the
// put-value/get-value itself, but a go peer that merely serves the DHT (e.g.
// the bootstrap node) must store the record too; so every namespace other than
// the two go checks by default ("pk": record.PublicKeyValidator, "ipns":
// ipns.Validator) is permissive: any value is valid and Select picks index 0.
type interopValidator struct {
	strict record.NamespacedValidator
}

func (v interopValidator) inner(key string) record.Validator {
	ns, _, err := record.SplitKey(key)
	if err != nil {
		return nil
	}
	return v.strict[ns]
}

func (v interopValidator) Validate(key string, value []byte) error {
	if in := v.inner(key); in != nil {
		return in.Validate(key, value)
	}
	return nil
}

func (v interopValidator) Select(key string, values [][]byte) (int, error) {
	if in := v.inner(key); in != nil {
		return in.Select(key, values)
	}
	if len(values) == 0 {
		return 0, errors.New("no values")
	}
	return 0, nil
}

// ---------------------------------------------------------------------------
// Identify results, from the event bus.

type identifyStore struct {
	mu      sync.Mutex
	last    map[peer.ID]event.EvtPeerIdentificationCompleted
	failed  map[peer.ID]error
	changed chan struct{} // closed and replaced on every change
}

func newIdentifyStore() *identifyStore {
	return &identifyStore{
		last:    map[peer.ID]event.EvtPeerIdentificationCompleted{},
		failed:  map[peer.ID]error{},
		changed: make(chan struct{}),
	}
}

func (s *identifyStore) put(e event.EvtPeerIdentificationCompleted) {
	s.mu.Lock()
	s.last[e.Peer] = e
	delete(s.failed, e.Peer)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *identifyStore) fail(p peer.ID, err error) {
	s.mu.Lock()
	s.failed[p] = err
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *identifyStore) get(p peer.ID) (event.EvtPeerIdentificationCompleted, bool, error, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.last[p]
	return e, ok, s.failed[p], s.changed
}

// ---------------------------------------------------------------------------
// Construction.

func newNode(cfg *config) (*node, error) {
	priv, err := identity(cfg)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}

	// Resource manager: go's default (rcmgr with the scaled default limits)
	// caps, among others, streams per peer (inbound/outbound), per-protocol
	// and per-service streams, connections, file descriptors and the memory
	// a peer/connection/stream may reserve, which bounds how far the yamux
	// receive windows grow. The interop tests open 300 concurrent streams and
	// echo 16 MiB per stream, which the defaults may refuse or throttle, and
	// those refusals would be go's local policy, not protocol behaviour. So
	// every scope (system, transient, service, protocol, peer, connection,
	// stream) is raised to unlimited: rcmgr.InfiniteLimits. The per-IP
	// connection limiter keeps its defaults (loopback is unlimited there).
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(rcmgr.InfiniteLimits))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}

	security := libp2p.Security(noise.ID, noise.New)
	if cfg.noInlineMuxer {
		security = libp2p.Security(noise.ID, noiseWithoutInlineMuxer)
	}

	opts := []libp2p.Option{
		libp2p.Identity(priv),
		// TCP only, Noise only, yamux only (go-yamux defaults as go-libp2p
		// sets them: 16 MiB max window, keepalive every 30 s, accept backlog
		// 256; nothing is raised here).
		libp2p.Transport(tcp.NewTCPTransport),
		security,
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		// The Circuit Relay v2 client (the /p2p-circuit transport and the STOP handler)
		// is always on: the swarm listens on /p2p-circuit, so relayed connections are
		// accepted; the reserve action makes the reservations (no autorelay).
		libp2p.EnableRelay(),
		libp2p.DisableMetrics(),
		libp2p.ResourceManager(rm),
		// No connection manager: connections are never trimmed.
		libp2p.ConnectionManager(connmgr.NullConnMgr{}),
		libp2p.UserAgent(cfg.agent),
		libp2p.ProtocolVersion(cfg.protoVersion),
	}
	if len(cfg.listen) > 0 {
		opts = append(opts, libp2p.ListenAddrStrings(cfg.listen...))
	} else {
		opts = append(opts, libp2p.NoListenAddrs)
	}

	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, err
	}
	n := &node{cfg: cfg, h: h, ids: newIdentifyStore()}

	// Events: subscribe before anything can connect to us (nobody knows our
	// address before the "listening" line).
	if err := n.watchEvents(); err != nil {
		h.Close()
		return nil, err
	}

	// Inbound streams on limited (relayed) connections are accepted by go-libp2p;
	// only the opener must allow them (network.WithAllowLimitedConn).
	h.SetStreamHandler(echoProtocol, serveEcho)

	if cfg.relayServer {
		// The Circuit Relay v2 HOP service, started at once (go's EnableRelayService
		// waits for AutoNAT to say the node is public). go's defaults: 2 min and
		// 128 KiB per circuit, 128 reservations, 16 circuits per peer, and the
		// reservation lists only public addresses (manet.IsPublicAddr), which on
		// loopback is none; raised for the tests: 10 min and 64 MiB per circuit, and
		// every address of the relay in the reservation.
		rc := relay.DefaultResources()
		rc.Limit = &relay.RelayLimit{Duration: 10 * time.Minute, Data: 64 << 20}
		rel, err := relay.New(h, relay.WithResources(rc),
			relay.WithReservationAddressFilter(func(ma.Multiaddr) bool { return true }))
		if err != nil {
			n.close()
			return nil, fmt.Errorf("relay service: %w", err)
		}
		n.rel = rel
	}

	// Kademlia. dht.New (not the dual DHT) uses no address, query or routing
	// table filter by default, so loopback peers are accepted as they are.
	// The protocol prefix is set to a non-default value only because
	// kad-dht's config validation, for the default "/ipfs" prefix, insists on
	// exactly the pk and ipns validators; V1ProtocolOverride then gives the
	// one protocol ID actually spoken (--kad-protocol, /ipfs/kad/1.0.0 by
	// default).
	var mode dht.ModeOpt
	switch cfg.kad.kind {
	case "server":
		mode = dht.ModeServer
	case "client":
		mode = dht.ModeClient
	default:
		// client-then-server:D: ModeAuto starts as a client and follows
		// EvtLocalReachabilityChanged, which go's AutoNAT emits in a real
		// node; the switch below emits Public after D.
		mode = dht.ModeAuto
	}
	val := interopValidator{strict: record.NamespacedValidator{
		"pk":   record.PublicKeyValidator{},
		"ipns": ipns.Validator{KeyBook: h.Peerstore()},
	}}
	d, err := dht.New(h,
		dht.Mode(mode),
		dht.ProtocolPrefix("/keel-interop"),
		dht.V1ProtocolOverride(protocol.ID(cfg.kadProto)),
		dht.Validator(val),
	)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("dht: %w", err)
	}
	n.d = d

	if cfg.kad.kind == "client-then-server" {
		em, err := h.EventBus().Emitter(new(event.EvtLocalReachabilityChanged), eventbus.Stateful)
		if err != nil {
			n.close()
			return nil, fmt.Errorf("reachability emitter: %w", err)
		}
		time.AfterFunc(cfg.kad.switchAfter, func() {
			logf("kad-mode: reachability public, switching to server")
			if err := em.Emit(event.EvtLocalReachabilityChanged{Reachability: network.ReachabilityPublic}); err != nil {
				logf("emitting reachability: %v", err)
			}
		})
	}
	return n, nil
}

func (n *node) close() {
	for _, s := range n.subs {
		s.Close()
	}
	if n.d != nil {
		n.d.Close()
	}
	if n.rel != nil {
		n.rel.Close()
	}
	n.h.Close()
}

// listenAddrs: the host's advertised addresses, each with /p2p/ID.
func (n *node) listenAddrs() []string {
	addrs := n.h.Addrs()
	if len(addrs) == 0 {
		addrs = n.h.Network().ListenAddresses()
	}
	suffix, _ := ma.NewComponent("p2p", n.h.ID().String())
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.Encapsulate(suffix.Multiaddr()).String())
	}
	return out
}

// watchEvents prints the connected/disconnected/identify events and keeps the
// identify results the identify action reads. --quiet-events (a bootstrap under
// load: bench/compare.sh) prints none of the events and logs no line per
// connection; with no actions either, nothing per peer is kept and no subscriber
// sits on the event bus: a connection then costs only what go-libp2p and the
// DHT spend on it.
func (n *node) watchEvents() error {
	if n.cfg.quietEvents && len(n.cfg.actions) == 0 {
		return nil
	}
	if !n.cfg.quietEvents {
		n.notifyConnections()
	}
	return n.watchIdentify()
}

func (n *node) notifyConnections() {
	n.h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			st := c.ConnState()
			logf("connected to %s (%s, %s): security %s, muxer %s, muxer inlined in the handshake: %v",
				c.RemotePeer(), c.Stat().Direction, c.RemoteMultiaddr(), st.Security, st.StreamMultiplexer, st.UsedEarlyMuxerNegotiation)
			emit(kv{"event", "connected"}, kv{"peer", c.RemotePeer().String()})
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			emit(kv{"event", "disconnected"}, kv{"peer", c.RemotePeer().String()})
		},
	})
}

// watchIdentify keeps each peer's last identify (or its failure) for the
// identify action and prints the identify events (unless --quiet-events).
func (n *node) watchIdentify() error {
	// go-libp2p v0.52 emits EvtPeerIdentificationCompleted for every identify
	// message consumed: the first identify of a connection and every push
	// (a push also emits EvtPeerProtocolsUpdated, with the diff).
	sub, err := n.h.EventBus().Subscribe(
		[]any{new(event.EvtPeerIdentificationCompleted), new(event.EvtPeerIdentificationFailed)},
		eventbus.Name("interop-peer identify"), eventbus.BufSize(1024))
	if err != nil {
		return fmt.Errorf("subscribing to identify events: %w", err)
	}
	n.subs = append(n.subs, sub)
	go func() {
		for e := range sub.Out() {
			switch e := e.(type) {
			case event.EvtPeerIdentificationCompleted:
				n.ids.put(e)
				if !n.cfg.quietEvents {
					emit(kv{"event", "identify"}, kv{"peer", e.Peer.String()},
						kv{"agent_version", e.AgentVersion}, kv{"protocols", protoStrings(e.Protocols)})
				}
			case event.EvtPeerIdentificationFailed:
				logf("identify of %s failed: %v", e.Peer, e.Reason)
				n.ids.fail(e.Peer, e.Reason)
			}
		}
	}()
	return nil
}

func protoStrings(ps []protocol.ID) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, string(p))
	}
	return out
}

func addrStrings(as []ma.Multiaddr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// serveEcho writes back every byte until the remote half-closes, then closes.
func serveEcho(s network.Stream) {
	if _, err := io.Copy(s, s); err != nil {
		s.Reset()
		return
	}
	s.Close()
}

// withTimeout: the per-action deadline.
func (n *node) withTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), n.cfg.timeout)
}
