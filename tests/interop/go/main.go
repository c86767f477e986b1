// Command go-peer is Keel's go-libp2p interop test peer (go-libp2p v0.52.0,
// go-libp2p-kad-dht v0.42.2). It implements tests/interop/peer-contract.md:
// the same flags, actions, JSON lines and events as the rust peer.
//
// stdout holds only JSON lines; every log goes to stderr.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ---------------------------------------------------------------------------
// Output: one JSON object per line, keys in the order given.

type kv struct {
	k string
	v any
}

var (
	outMu     sync.Mutex
	outClosed bool // set when the program is exiting: no line after the last one
)

func encodeLine(fields []kv) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonValue(f.k))
		b.WriteByte(':')
		b.Write(jsonValue(f.v))
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func jsonValue(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`null`)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// emit prints one JSON line (an event or an action result).
func emit(fields ...kv) {
	line := encodeLine(fields)
	outMu.Lock()
	defer outMu.Unlock()
	if outClosed {
		return
	}
	os.Stdout.Write(line)
}

// finish prints a last line (if any), forbids any further output and exits.
func finish(code int, last []kv) {
	outMu.Lock()
	if !outClosed {
		if last != nil {
			os.Stdout.Write(encodeLine(last))
		}
		outClosed = true
	}
	outMu.Unlock()
	shutdown()
	os.Exit(code)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go-peer: "+format+"\n", args...)
}

// ---------------------------------------------------------------------------
// Flags.

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

type kadMode struct {
	kind        string        // "server", "client", "client-then-server"
	switchAfter time.Duration // for client-then-server
}

type config struct {
	listen        []string
	seed          string
	seedSet       bool
	agent         string
	protoVersion  string
	identifyProto string
	kadProto      string
	kad           kadMode
	noInlineMuxer bool
	relayServer   bool
	quietEvents   bool
	timeout       time.Duration
	linger        time.Duration
	lingerSet     bool
	maxLifetime   time.Duration
	actions       []string
}

const (
	defaultIdentifyProtocol = "/ipfs/id/1.0.0"
	echoProtocol            = "/keel/echo/1.0.0"
)

// defaultAgent is "the implementation's own" agentVersion. go-libp2p's own
// default comes from the main module's build info ("keel.test/interop-peer@"
// here, as the build has no VCS stamp), which says nothing; name go-libp2p and
// its version instead.
func defaultAgent() string {
	version := "v0.52.0"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/libp2p/go-libp2p" {
				version = dep.Version
			}
		}
	}
	return "go-libp2p/" + version + " keel-interop-peer"
}

func parseFlags() (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("go-peer", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	var listen, actions multiFlag
	fs.Var(&listen, "listen", "listen multiaddr (repeatable)")
	fs.Var(&actions, "do", "action (repeatable), e.g. \"dial /ip4/127.0.0.1/tcp/4001/p2p/ID\"")
	seed := fs.String("seed", "", "Ed25519 identity from SHA-256(\"keel-interop-\" + N)")
	agent := fs.String("agent", defaultAgent(), "identify agentVersion")
	pv := fs.String("protocol-version", "ipfs/0.1.0", "identify protocolVersion")
	idp := fs.String("identify-protocol", defaultIdentifyProtocol, "identify protocol ID")
	kadp := fs.String("kad-protocol", "/ipfs/kad/1.0.0", "Kademlia protocol ID")
	mode := fs.String("kad-mode", "server", "server, client or client-then-server:D")
	fs.BoolVar(&cfg.noInlineMuxer, "no-inline-muxer", false, "do not offer the muxer inside the Noise handshake")
	fs.BoolVar(&cfg.relayServer, "relay-server", false, "serve Circuit Relay v2 (HOP)")
	fs.BoolVar(&cfg.quietEvents, "quiet-events", false, "no connected/disconnected/identify event lines (a bootstrap under load)")
	timeout := fs.String("timeout", "20s", "deadline of each action")
	linger := fs.String("linger", "0s", "keep running D after the last action")
	maxLife := fs.String("max-lifetime", "300s", "hard exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "seed":
			cfg.seedSet = true
		case "linger":
			cfg.lingerSet = true
		}
	})
	cfg.listen = listen
	cfg.actions = actions
	cfg.seed = *seed
	cfg.agent = *agent
	cfg.protoVersion = *pv
	cfg.identifyProto = *idp
	cfg.kadProto = *kadp
	var err error
	if cfg.timeout, err = parseDuration("timeout", *timeout); err != nil {
		return cfg, err
	}
	if cfg.linger, err = parseDuration("linger", *linger); err != nil {
		return cfg, err
	}
	if cfg.maxLifetime, err = parseDuration("max-lifetime", *maxLife); err != nil {
		return cfg, err
	}
	switch {
	case *mode == "server" || *mode == "client":
		cfg.kad.kind = *mode
	case strings.HasPrefix(*mode, "client-then-server:"):
		cfg.kad.kind = "client-then-server"
		if cfg.kad.switchAfter, err = parseDuration("kad-mode", strings.TrimPrefix(*mode, "client-then-server:")); err != nil {
			return cfg, err
		}
	default:
		return cfg, fmt.Errorf("--kad-mode: %q is not server, client or client-then-server:D", *mode)
	}
	// go-libp2p v0.52's identify service registers its handler and dials under
	// the constant identify.ID ("/ipfs/id/1.0.0"); no option changes it.
	if cfg.identifyProto != defaultIdentifyProtocol {
		return cfg, fmt.Errorf("--identify-protocol %q: not supported by the go peer: go-libp2p v0.52's identify protocol ID is the constant %q (p2p/protocol/identify.ID) and no libp2p or identify option changes it", cfg.identifyProto, defaultIdentifyProtocol)
	}
	return cfg, nil
}

func parseDuration(name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--%s: bad duration %q: %v", name, s, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("--%s: negative duration %q", name, s)
	}
	return d, nil
}

// ---------------------------------------------------------------------------
// Lifecycle.

var (
	stateMu       sync.Mutex
	currentAction *string // the action running now, nil if none (under stateMu)
	shutdownOnce  sync.Once
	shutdownFn    func()
)

// shutdown closes the node, bounded in time (the hard exit follows anyway).
func shutdown() {
	shutdownOnce.Do(func() {
		if shutdownFn == nil {
			return
		}
		done := make(chan struct{})
		go func() { shutdownFn(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	})
}

// abort ends the program from a timer or a signal: the running action (if
// any) fails with reason, otherwise the run ended normally.
func abort(reason string) {
	stateMu.Lock() // held until the exit: no action line can follow
	if currentAction != nil {
		finish(1, []kv{{"action", *currentAction}, {"ok", false}, {"error", reason}})
	}
	finish(0, nil)
}

// startupFailure reports a bad configuration or a node that did not start: as
// the failure of the first action when there is one (so a test waiting for
// that line sees why), else as an "error" event; then exits 2.
func startupFailure(cfg *config, err error) {
	if cfg != nil && len(cfg.actions) > 0 {
		label := cfg.actions[0]
		if f := strings.Fields(label); len(f) > 0 {
			label = f[0]
		}
		emit(kv{"action", label}, kv{"ok", false}, kv{"error", err.Error()})
	} else {
		emit(kv{"event", "error"}, kv{"error", err.Error()})
	}
	os.Exit(2)
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		logf("%v", err)
		startupFailure(cfg, err)
	}

	// The hard limit: nothing runs past --max-lifetime, whatever happens.
	time.AfterFunc(cfg.maxLifetime, func() {
		logf("max-lifetime %s reached", cfg.maxLifetime)
		abort("max-lifetime reached")
	})
	// Belt and braces: if the orderly exit above hangs, exit anyway.
	time.AfterFunc(cfg.maxLifetime+3*time.Second, func() { os.Exit(1) })

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		logf("signal %v", s)
		abort("terminated by signal " + s.String())
	}()

	n, err := newNode(cfg)
	if err != nil {
		logf("starting the node: %v", err)
		startupFailure(cfg, fmt.Errorf("starting the node: %w", err))
	}
	shutdownFn = n.close

	if len(cfg.listen) > 0 {
		emit(kv{"event", "listening"}, kv{"peer_id", n.h.ID().String()}, kv{"addrs", n.listenAddrs()})
	}

	for _, a := range cfg.actions {
		label := a
		if f := strings.Fields(a); len(f) > 0 {
			label = f[0]
		}
		stateMu.Lock()
		currentAction = &label
		stateMu.Unlock()

		fields, err := n.runAction(a)

		stateMu.Lock()
		if err != nil {
			line := append([]kv{{"action", label}, {"ok", false}}, fields...)
			finish(1, append(line, kv{"error", err.Error()}))
		}
		emit(append([]kv{{"action", label}, {"ok", true}}, fields...)...)
		currentAction = nil
		stateMu.Unlock()
	}

	switch {
	case cfg.lingerSet:
		time.Sleep(cfg.linger)
	case len(cfg.listen) > 0:
		select {} // until --max-lifetime or a signal
	}
	finish(0, nil)
}
