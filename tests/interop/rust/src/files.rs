//! `/keel-test/file/1.0.0`: a request-response protocol that serves one deterministic file
//! (`--serve-file N`, the `fetch` action).
//!
//! Request: unsigned varint length + a UTF-8 name (at most 1 KiB; the server ignores it).
//! Response: unsigned varint length + that many bytes (the client refuses more than 64 MiB
//! before allocating). The content of a peer's file is [`content`]: a fetcher recomputes it
//! from the peer ID alone.
//!
//! libp2p-request-response's `Codec` is an `async_trait` trait (the same in 0.26 and 0.29);
//! its methods are written out as `async_trait` expands them, so that the crate is not a
//! direct dependency (and the lockfiles stay as they are).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{request_response, PeerId, StreamProtocol};
use sha2::{Digest, Sha256};

use crate::util::Prng;

pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/keel-test/file/1.0.0");
pub const MAX_NAME: usize = 1024;
pub const MAX_FILE: u64 = 64 << 20;

/// The file a peer serves with `--serve-file n`: the util.rs Prng (xorshift64*) seeded with the
/// first 8 bytes (little endian) of SHA-256(the peer ID's bytes).
pub fn content(peer: &PeerId, n: usize) -> Vec<u8> {
    let digest = Sha256::digest(peer.to_bytes());
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&digest[..8]);
    let mut out = vec![0u8; n];
    Prng::new(u64::from_le_bytes(seed)).fill(&mut out);
    out
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Clone, Default)]
pub struct Codec;

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send + 'a>>;

async fn read_varint<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<u64> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let mut b = [0u8; 1];
        io.read_exact(&mut b).await?;
        v |= u64::from(b[0] & 0x7f) << (7 * i);
        if b[0] & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "varint too long"))
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn too_big(what: &str, n: u64, max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what} of {n} bytes exceeds {max}"),
    )
}

impl request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    /// The file's name (ignored by the server).
    type Request = String;
    /// The file (shared: the server answers every request with the same bytes).
    type Response = Arc<Vec<u8>>;

    fn read_request<'life0, 'life1, 'life2, 'async_trait, T>(
        &'life0 mut self,
        _protocol: &'life1 StreamProtocol,
        io: &'life2 mut T,
    ) -> BoxFut<'async_trait, String>
    where
        T: AsyncRead + Unpin + Send + 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let n = read_varint(io).await?;
            if n > MAX_NAME as u64 {
                return Err(too_big("request", n, MAX_NAME as u64));
            }
            let mut buf = vec![0u8; n as usize];
            io.read_exact(&mut buf).await?;
            String::from_utf8(buf)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "name is not UTF-8"))
        })
    }

    fn read_response<'life0, 'life1, 'life2, 'async_trait, T>(
        &'life0 mut self,
        _protocol: &'life1 StreamProtocol,
        io: &'life2 mut T,
    ) -> BoxFut<'async_trait, Arc<Vec<u8>>>
    where
        T: AsyncRead + Unpin + Send + 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let n = read_varint(io).await?;
            if n > MAX_FILE {
                return Err(too_big("response", n, MAX_FILE));
            }
            let mut buf = vec![0u8; n as usize];
            io.read_exact(&mut buf).await?;
            Ok(Arc::new(buf))
        })
    }

    fn write_request<'life0, 'life1, 'life2, 'async_trait, T>(
        &'life0 mut self,
        _protocol: &'life1 StreamProtocol,
        io: &'life2 mut T,
        req: String,
    ) -> BoxFut<'async_trait, ()>
    where
        T: AsyncWrite + Unpin + Send + 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            if req.len() > MAX_NAME {
                return Err(too_big("request", req.len() as u64, MAX_NAME as u64));
            }
            io.write_all(&varint(req.len() as u64)).await?;
            io.write_all(req.as_bytes()).await?;
            io.flush().await
        })
    }

    fn write_response<'life0, 'life1, 'life2, 'async_trait, T>(
        &'life0 mut self,
        _protocol: &'life1 StreamProtocol,
        io: &'life2 mut T,
        res: Arc<Vec<u8>>,
    ) -> BoxFut<'async_trait, ()>
    where
        T: AsyncWrite + Unpin + Send + 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            io.write_all(&varint(res.len() as u64)).await?;
            io.write_all(&res).await?;
            io.flush().await
        })
    }
}

pub type Behaviour = request_response::Behaviour<Codec>;

/// Serves the protocol when `serve` (else only requests it: the protocol is not announced).
pub fn behaviour(serve: bool, timeout: std::time::Duration) -> Behaviour {
    let support = if serve {
        request_response::ProtocolSupport::Full
    } else {
        request_response::ProtocolSupport::Outbound
    };
    request_response::Behaviour::with_codec(
        Codec,
        [(PROTOCOL, support)],
        request_response::Config::default().with_request_timeout(timeout),
    )
}

