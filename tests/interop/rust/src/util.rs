use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

/// Prints one JSON line on stdout and flushes it.
pub fn emit(v: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

static DEBUG: OnceLock<bool> = OnceLock::new();

/// Whether KEEL_PEER_DEBUG is set (read once).
pub fn debug_on() -> bool {
    *DEBUG.get_or_init(|| std::env::var_os("KEEL_PEER_DEBUG").is_some_and(|v| !v.is_empty()))
}

/// Logs to stderr when KEEL_PEER_DEBUG is set (off by default).
pub fn debug(msg: &str) {
    if debug_on() {
        eprintln!("rust-peer: {msg}");
    }
}

/// `debug(&format!(...))` that formats nothing unless KEEL_PEER_DEBUG is set: the swarm task
/// logs every connection, Kademlia request and ping, and a bootstrap under load (bench/compare.sh)
/// should not pay for formatting lines nobody prints.
macro_rules! debugf {
    ($($arg:tt)*) => {
        if $crate::util::debug_on() {
            $crate::util::debug(&format!($($arg)*))
        }
    };
}
pub(crate) use debugf;

/// `500ms`, `20s`, `2m`, `1h`; a bare number is seconds. Fractions allowed (`1.5s`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(v * mult))
}

/// Deterministic pseudo-random bytes (xorshift64*), one sequence per seed.
pub struct Prng {
    state: u64,
    buf: [u8; 8],
    pos: usize,
}

impl Prng {
    pub fn new(seed: u64) -> Self {
        let state = seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        Prng {
            state,
            buf: [0; 8],
            pos: 8,
        }
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for b in out.iter_mut() {
            if self.pos == 8 {
                self.buf = self.next_u64().to_le_bytes();
                self.pos = 0;
            }
            *b = self.buf[self.pos];
            self.pos += 1;
        }
    }
}
