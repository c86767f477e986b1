package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
)

// arities: how many arguments each action takes (put-value checks its own: VALUE may hold
// spaces).
var arities = map[string]struct {
	count int
	usage string
}{
	"dial":           {1, "MA"},
	"ping":           {2, "PEER N"},
	"identify":       {1, "PEER"},
	"bootstrap":      {1, "MA"},
	"wait-routing":   {1, "N"},
	"routing-table":  {0, ""},
	"provide":        {1, "KEY"},
	"find-providers": {1, "KEY"},
	"put-pk":         {0, ""},
	"get-pk":         {1, "PEER"},
	"get-value":      {1, "KEY"},
	"find-peer":      {1, "PEER"},
	"streams":        {2, "PEER N"},
	"echo":           {3, "PEER BYTES S"},
	"hold":           {2, "PEER D"},
	"sleep":          {1, "D"},
	"reserve":        {1, "MA"},
	"echo-via":       {2, "MA BYTES"},
}

// runAction runs one --do action and returns the fields of its JSON line
// (besides "action" and "ok"), or the error of its failure line.
func (n *node) runAction(text string) ([]kv, error) {
	f := strings.Fields(text)
	if len(f) == 0 {
		return nil, errors.New("empty action")
	}
	name, args := f[0], f[1:]
	if a, ok := arities[name]; ok && len(args) != a.count {
		return nil, fmt.Errorf("usage: %s %s", name, a.usage)
	}
	switch name {
	case "dial":
		return n.dial(args[0])
	case "ping":
		count, err := parseCount(args[1])
		if err != nil {
			return nil, err
		}
		return n.ping(args[0], count)
	case "identify":
		return n.identify(args[0])
	case "bootstrap":
		return n.bootstrap(args[0])
	case "wait-routing":
		count, err := parseCount(args[0])
		if err != nil {
			return nil, err
		}
		return n.waitRouting(count)
	case "routing-table":
		return []kv{{"peers", n.routingPeers()}}, nil
	case "provide":
		return n.provide(args[0])
	case "find-providers":
		return n.findProviders(args[0])
	case "put-pk":
		return n.putPK()
	case "get-pk":
		return n.getPK(args[0])
	case "put-value":
		// VALUE is the rest of the line after KEY.
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), name))
		key, value, ok := strings.Cut(rest, " ")
		if !ok || key == "" {
			return nil, fmt.Errorf("usage: %s KEY VALUE", name)
		}
		return n.putValue(key, strings.TrimSpace(value))
	case "get-value":
		return n.getValue(args[0])
	case "find-peer":
		return n.findPeer(args[0])
	case "streams":
		count, err := parseCount(args[1])
		if err != nil {
			return nil, err
		}
		return n.streams(args[0], count)
	case "echo":
		size, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad BYTES %q", args[1])
		}
		count, err := parseCount(args[2])
		if err != nil {
			return nil, err
		}
		return n.echo(args[0], size, count)
	case "hold":
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return nil, fmt.Errorf("bad duration %q", args[1])
		}
		return n.hold(args[0], d)
	case "reserve":
		return n.reserve(args[0])
	case "echo-via":
		size, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad BYTES %q", args[1])
		}
		return n.echoVia(args[0], size)
	case "sleep":
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return nil, fmt.Errorf("bad duration %q", args[0])
		}
		time.Sleep(d)
		return nil, nil
	}
	return nil, fmt.Errorf("unknown action %q", name)
}

func parseCount(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad count %q", s)
	}
	return v, nil
}

func parsePeer(s string) (peer.ID, error) {
	p, err := peer.Decode(s)
	if err != nil {
		return "", fmt.Errorf("bad peer ID %q: %v", s, err)
	}
	return p, nil
}

func parseAddrInfo(s string) (*peer.AddrInfo, error) {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, fmt.Errorf("bad multiaddr %q: %v", s, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return nil, fmt.Errorf("multiaddr %q: %v (it must end with /p2p/ID)", s, err)
	}
	return ai, nil
}

// keyCID: a CID in text, or any other text as CIDv1 (raw, sha2-256 of it).
func keyCID(s string) (cid.Cid, error) {
	if c, err := cid.Decode(s); err == nil {
		return c, nil
	}
	sum, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		return cid.Undef, err
	}
	return cid.NewCidV1(cid.Raw, sum), nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && err == nil {
		return fmt.Errorf("timed out: %v", ctx.Err())
	}
	return err
}

// ---------------------------------------------------------------------------

func (n *node) dial(s string) ([]kv, error) {
	ai, err := parseAddrInfo(s)
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	if err := n.h.Connect(ctx, *ai); err != nil {
		return nil, err
	}
	return []kv{{"peer", ai.ID.String()}}, nil
}

func (n *node) requireConnected(p peer.ID) error {
	if n.h.Network().Connectedness(p) != network.Connected {
		return fmt.Errorf("not connected to %s", p)
	}
	return nil
}

func (n *node) ping(ps string, count int) ([]kv, error) {
	p, err := parsePeer(ps)
	if err != nil {
		return nil, err
	}
	if err := n.requireConnected(p); err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	// On the open connection: never dial.
	results := ping.Ping(network.WithNoDial(ctx, "ping on the open connection"), n.h, p)
	rtts := make([]float64, 0, count)
	for len(rtts) < count {
		select {
		case r, ok := <-results:
			if !ok {
				return nil, ctxErr(ctx, errors.New("ping stream ended"))
			}
			if r.Error != nil {
				return nil, r.Error
			}
			rtts = append(rtts, math.Round(float64(r.RTT.Microseconds()))/1000)
		case <-ctx.Done():
			return nil, fmt.Errorf("timed out after %d of %d pings", len(rtts), count)
		}
	}
	return []kv{{"rtts_ms", rtts}}, nil
}

func (n *node) identify(ps string) ([]kv, error) {
	p, err := parsePeer(ps)
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	for {
		e, ok, failed, changed := n.ids.get(p)
		if ok {
			// Agent, protocol version and protocols as stored in the peerstore
			// by identify (the same values as the message); the listen addrs
			// and observed addr as the peer sent them.
			pstore := n.h.Peerstore()
			agent, protoVersion := e.AgentVersion, e.ProtocolVersion
			if v, err := pstore.Get(p, "AgentVersion"); err == nil {
				if s, ok := v.(string); ok {
					agent = s
				}
			}
			if v, err := pstore.Get(p, "ProtocolVersion"); err == nil {
				if s, ok := v.(string); ok {
					protoVersion = s
				}
			}
			protos := protoStrings(e.Protocols)
			if ps, err := pstore.GetProtocols(p); err == nil && len(ps) > 0 {
				protos = protoStrings(ps)
			}
			sort.Strings(protos)
			var observed any
			if e.ObservedAddr != nil {
				observed = e.ObservedAddr.String()
			}
			return []kv{
				{"peer", p.String()},
				{"protocol_version", protoVersion},
				{"agent_version", agent},
				{"protocols", protos},
				{"listen_addrs", addrStrings(e.ListenAddrs)},
				{"observed_addr", observed},
			}, nil
		}
		if failed != nil && n.h.Network().Connectedness(p) != network.Connected {
			return nil, fmt.Errorf("identify failed: %v", failed)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if failed != nil {
				return nil, fmt.Errorf("identify failed: %v", failed)
			}
			if n.h.Network().Connectedness(p) != network.Connected {
				return nil, fmt.Errorf("timed out: not connected to %s and no identify from it", p)
			}
			return nil, errors.New("timed out waiting for identify")
		}
	}
}

func (n *node) routingPeers() []string {
	ps := n.d.RoutingTable().ListPeers()
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	sort.Strings(out)
	return out
}

func (n *node) bootstrap(s string) ([]kv, error) {
	ai, err := parseAddrInfo(s)
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	n.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
	if err := n.h.Connect(ctx, *ai); err != nil {
		return nil, fmt.Errorf("dialing %s: %v", ai.ID, err)
	}
	// Add it to the routing table directly, as a queried peer (go would
	// otherwise add it only after identify showed the kad protocol and the
	// "lookup check" FIND_NODE succeeded).
	if _, err := n.d.RoutingTable().TryAddPeer(ai.ID, true, false); err != nil {
		logf("bootstrap: adding %s to the routing table: %v", ai.ID, err)
	}
	// Run the bootstrap (a refresh of every bucket, self lookup included) and
	// wait for it to complete.
	var refreshErr error
	select {
	case refreshErr = <-n.d.ForceRefresh():
	case <-ctx.Done():
		return nil, fmt.Errorf("timed out waiting for the bootstrap refresh (routing table: %d peers)", n.d.RoutingTable().Size())
	}
	size := n.d.RoutingTable().Size()
	if refreshErr != nil {
		logf("bootstrap refresh: %v", refreshErr)
		if size == 0 {
			return nil, fmt.Errorf("bootstrap refresh failed and the routing table is empty: %v", refreshErr)
		}
		return []kv{{"peers", size}, {"refresh_error", refreshErr.Error()}}, nil
	}
	return []kv{{"peers", size}}, nil
}

func (n *node) waitRouting(count int) ([]kv, error) {
	ctx, cancel := n.withTimeout()
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	// A real node refreshes its table every 10 minutes; waiting, we refresh every 2 s so that
	// a node that joined before the others learns of them (the contract's wait-routing).
	refresh := time.NewTicker(2 * time.Second)
	defer refresh.Stop()
	for {
		if n.d.RoutingTable().Size() >= count {
			return []kv{{"peers", n.routingPeers()}}, nil
		}
		select {
		case <-refresh.C:
			n.d.RefreshRoutingTable()
		case <-tick.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("timed out: routing table holds %d peers %v, wanted %d", n.d.RoutingTable().Size(), n.routingPeers(), count)
		}
	}
}

func (n *node) provide(key string) ([]kv, error) {
	c, err := keyCID(key)
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	if err := n.d.Provide(ctx, c, true); err != nil {
		return nil, err
	}
	return []kv{{"key", c.String()}}, nil
}

func (n *node) findProviders(key string) ([]kv, error) {
	c, err := keyCID(key)
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	var providers []string
	for ai := range n.d.FindProvidersAsync(ctx, c, 1) {
		providers = append(providers, ai.ID.String())
	}
	if len(providers) == 0 {
		none := []kv{{"key", c.String()}, {"providers", []string{}}}
		if ctx.Err() != nil {
			return none, fmt.Errorf("no provider of %s found before the deadline", c)
		}
		return none, fmt.Errorf("no provider of %s found", c)
	}
	return []kv{{"key", c.String()}, {"providers", providers}}, nil
}

func (n *node) putPK() ([]kv, error) {
	pub := n.h.Peerstore().PubKey(n.h.ID())
	if pub == nil {
		return nil, errors.New("own public key unknown")
	}
	value, err := crypto.MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	if err := n.d.PutValue(ctx, "/pk/"+string(n.h.ID()), value); err != nil {
		return nil, err
	}
	return []kv{{"key", "/pk/" + n.h.ID().String()}}, nil
}

func (n *node) getPK(ps string) ([]kv, error) {
	p, err := parsePeer(ps)
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	// GetValue, not GetPublicKey: the latter would take an Ed25519 key
	// straight out of the (identity-multihash) peer ID without any query.
	value, err := n.d.GetValue(ctx, "/pk/"+string(p))
	if err != nil {
		return nil, err
	}
	pub, err := crypto.UnmarshalPublicKey(value)
	if err != nil {
		return nil, fmt.Errorf("value is not a public key: %v", err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if id != p {
		return nil, fmt.Errorf("value is the key of %s, not of %s", id, p)
	}
	return []kv{{"key", "/pk/" + p.String()}}, nil
}

func (n *node) putValue(key, value string) ([]kv, error) {
	ctx, cancel := n.withTimeout()
	defer cancel()
	if err := n.d.PutValue(ctx, key, []byte(value)); err != nil {
		return nil, err
	}
	return []kv{{"key", key}}, nil
}

func (n *node) getValue(key string) ([]kv, error) {
	ctx, cancel := n.withTimeout()
	defer cancel()
	value, err := n.d.GetValue(ctx, key)
	if err != nil {
		return nil, err
	}
	return []kv{{"key", key}, {"value", string(value)}}, nil
}

func (n *node) findPeer(ps string) ([]kv, error) {
	p, err := parsePeer(ps)
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	ai, err := n.d.FindPeer(ctx, p)
	if err != nil {
		return nil, err
	}
	return []kv{{"peer", p.String()}, {"addrs", addrStrings(ai.Addrs)}}, nil
}

// openEcho opens an echo stream on the open connection (never dials).
func (n *node) openEcho(ctx context.Context, p peer.ID) (network.Stream, error) {
	return n.h.NewStream(network.WithNoDial(ctx, "on the open connection"), p, echoProtocol)
}

// streams: N echo streams open at once, 4 bytes each way on each. Every
// stream stays open until all N have echoed (so N are open together), then
// they are closed.
func (n *node) streams(ps string, count int) ([]kv, error) {
	p, err := parsePeer(ps)
	if err != nil {
		return nil, err
	}
	if err := n.requireConnected(p); err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	deadline, _ := ctx.Deadline()
	start := time.Now()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		opened   []network.Stream
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := n.openEcho(ctx, p)
			if err != nil {
				fail(fmt.Errorf("stream %d: open: %v", i, err))
				return
			}
			mu.Lock()
			opened = append(opened, s)
			mu.Unlock()
			s.SetDeadline(deadline)
			var out, in [4]byte
			binary.BigEndian.PutUint32(out[:], uint32(i))
			if _, err := s.Write(out[:]); err != nil {
				fail(fmt.Errorf("stream %d: write: %v", i, err))
				return
			}
			if _, err := io.ReadFull(s, in[:]); err != nil {
				fail(fmt.Errorf("stream %d: read: %v", i, err))
				return
			}
			if in != out {
				fail(fmt.Errorf("stream %d: echoed %x, sent %x", i, in, out))
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, s := range opened {
		if firstErr != nil {
			s.Reset()
		} else {
			s.Close()
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return []kv{{"opened", count}, {"ms", elapsed.Milliseconds()}}, nil
}

// prng: deterministic pseudo-random bytes (splitmix64), one stream per seed.
type prng struct{ state uint64 }

func (r *prng) fill(b []byte) {
	for i := 0; i < len(b); i += 8 {
		r.state += 0x9e3779b97f4a7c15
		z := r.state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], z)
		copy(b[i:], w[:])
	}
}

// echo: on each of S streams at once, write BYTES pseudo-random bytes while
// reading the echo, half-close, and check everything came back.
func (n *node) echo(ps string, size int64, count int) ([]kv, error) {
	p, err := parsePeer(ps)
	if err != nil {
		return nil, err
	}
	if err := n.requireConnected(p); err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	deadline, _ := ctx.Deadline()
	start := time.Now()

	errs := make(chan error, count)
	for i := 0; i < count; i++ {
		go func(i int) {
			errs <- n.echoOne(ctx, p, deadline, uint64(i)+1, size)
		}(i)
	}
	var firstErr error
	for i := 0; i < count; i++ {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return []kv{{"bytes", size}, {"streams", count}, {"ms", time.Since(start).Milliseconds()}}, nil
}

func (n *node) echoOne(ctx context.Context, p peer.ID, deadline time.Time, seed uint64, size int64) error {
	s, err := n.openEcho(ctx, p)
	if err != nil {
		return fmt.Errorf("stream %d: open: %v", seed-1, err)
	}
	s.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()

	const chunk = 64 * 1024
	writeErr := make(chan error, 1)
	go func() {
		gen := prng{state: seed}
		buf := make([]byte, chunk)
		for left := size; left > 0; {
			k := int64(chunk)
			if left < k {
				k = left
			}
			gen.fill(buf[:k])
			if _, err := s.Write(buf[:k]); err != nil {
				writeErr <- fmt.Errorf("write: %v", err)
				return
			}
			left -= k
		}
		if err := s.CloseWrite(); err != nil {
			writeErr <- fmt.Errorf("close-write: %v", err)
			return
		}
		writeErr <- nil
	}()

	gen := prng{state: seed}
	want := make([]byte, chunk)
	got := make([]byte, chunk)
	var received int64
	var readErr error
	for received < size && readErr == nil {
		k := int64(chunk)
		if size-received < k {
			k = size - received
		}
		if _, err := io.ReadFull(s, got[:k]); err != nil {
			readErr = fmt.Errorf("read after %d of %d bytes: %v", received, size, err)
			break
		}
		gen.fill(want[:k])
		for j := int64(0); j < k; j++ {
			if got[j] != want[j] {
				readErr = fmt.Errorf("echo differs at byte %d", received+j)
				break
			}
		}
		received += k
	}
	if readErr == nil {
		// Then the remote must close its side: EOF, nothing more.
		var extra [1]byte
		if k, err := s.Read(extra[:]); k > 0 {
			readErr = fmt.Errorf("echo longer than the %d bytes sent", size)
		} else if err != io.EOF {
			readErr = fmt.Errorf("after the echo: expected EOF, got %v", err)
		}
	}
	if readErr != nil {
		s.Reset()
		<-writeErr
		return fmt.Errorf("stream %d: %v", seed-1, readErr)
	}
	if err := <-writeErr; err != nil {
		s.Reset()
		return fmt.Errorf("stream %d: %v", seed-1, err)
	}
	s.Close()
	return nil
}

// hold: wait D, then check the connection(s) open now to PEER are still up
// (the same connection, not a reconnect).
func (n *node) hold(ps string, d time.Duration) ([]kv, error) {
	p, err := parsePeer(ps)
	if err != nil {
		return nil, err
	}
	before := map[string]bool{}
	for _, c := range n.h.Network().ConnsToPeer(p) {
		before[c.ID()] = true
	}
	if len(before) == 0 {
		return nil, fmt.Errorf("not connected to %s", p)
	}
	time.Sleep(d)
	connected := false
	for _, c := range n.h.Network().ConnsToPeer(p) {
		if before[c.ID()] && !c.IsClosed() {
			connected = true
		}
	}
	if !connected {
		return []kv{{"connected", false}}, fmt.Errorf("the connection to %s did not stay up for %s", p, d)
	}
	return []kv{{"connected", true}}, nil
}

// ---------------------------------------------------------------------------
// Circuit Relay v2.

// reserve: connect to the relay MA and make a reservation (go's circuitv2
// client.Reserve, which checks the voucher when there is one: signed by the
// relay, for this peer). The circuit addresses are MA and every address the
// relay put in the reservation, each followed by /p2p-circuit/p2p/<self>; the
// swarm already listens on /p2p-circuit (the relay transport), so circuits
// through the relay are accepted from now on. The reservation is not renewed.
func (n *node) reserve(s string) ([]kv, error) {
	ai, err := parseAddrInfo(s)
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	if err := n.h.Connect(ctx, *ai); err != nil {
		return nil, fmt.Errorf("connecting to the relay: %w", err)
	}
	rsvp, err := client.Reserve(ctx, n.h, *ai)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	relayPart, _ := ma.NewComponent("p2p", ai.ID.String())
	tail, _ := ma.NewMultiaddr("/p2p-circuit/p2p/" + n.h.ID().String())
	var circuits, reservationAddrs []string
	add := func(a ma.Multiaddr) {
		// With /p2p/<relay> exactly once.
		if _, last := ma.SplitLast(a); last == nil || last.Protocol().Code != ma.P_P2P {
			a = a.Encapsulate(relayPart.Multiaddr())
		}
		text := a.Encapsulate(tail).String()
		for _, c := range circuits {
			if c == text {
				return
			}
		}
		circuits = append(circuits, text)
	}
	for _, a := range ai.Addrs {
		add(a)
	}
	for _, a := range rsvp.Addrs {
		reservationAddrs = append(reservationAddrs, a.String())
		add(a)
	}
	if reservationAddrs == nil {
		reservationAddrs = []string{}
	}
	logf("reservation on %s: expires %s, addrs %v, limit %s / %d bytes, voucher %v",
		ai.ID, rsvp.Expiration, reservationAddrs, rsvp.LimitDuration, rsvp.LimitData, rsvp.Voucher != nil)
	return []kv{
		{"relay", ai.ID.String()},
		{"circuit_addrs", circuits},
		{"reservation_addrs", reservationAddrs},
		{"expires_in_s", int64(time.Until(rsvp.Expiration).Seconds())},
		{"limit_duration_s", int64(rsvp.LimitDuration.Seconds())},
		{"limit_data", rsvp.LimitData},
		{"voucher", rsvp.Voucher != nil},
	}, nil
}

// echoVia: connect to MA (a /p2p-circuit address gives a limited, relayed
// connection; allowed here), then echo BYTES on one /keel/echo/1.0.0 stream
// opened on it.
func (n *node) echoVia(s string, size int64) ([]kv, error) {
	ai, err := parseAddrInfo(s)
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.withTimeout()
	defer cancel()
	ctx = network.WithAllowLimitedConn(ctx, "interop echo through a relay")
	deadline, _ := ctx.Deadline()
	start := time.Now()
	if err := n.h.Connect(ctx, *ai); err != nil {
		return nil, fmt.Errorf("connecting: %w", ctxErr(ctx, err))
	}
	limited := false
	for _, c := range n.h.Network().ConnsToPeer(ai.ID) {
		if c.Stat().Limited {
			limited = true
		}
	}
	if err := n.echoOne(ctx, ai.ID, deadline, 1, size); err != nil {
		return []kv{{"peer", ai.ID.String()}, {"limited", limited}}, err
	}
	return []kv{{"peer", ai.ID.String()}, {"bytes", size}, {"limited", limited},
		{"ms", time.Since(start).Milliseconds()}}, nil
}
