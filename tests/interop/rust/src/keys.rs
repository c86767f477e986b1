//! Content keys: a CID in text (CIDv0 `Qm...`, CIDv1 in base32 `b...` or base58btc `z...`) or any
//! other text, which becomes CIDv1 (raw, sha2-256 of the UTF-8 text). The DHT key is the CID's
//! multihash bytes.

use sha2::{Digest, Sha256};

const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

pub struct ContentKey {
    /// The CID as text (as given if it was a CID).
    pub cid: String,
    /// The multihash bytes: the DHT key.
    pub multihash: Vec<u8>,
}

pub fn content_key(text: &str) -> ContentKey {
    if let Some(mh) = parse_cid(text) {
        return ContentKey {
            cid: text.to_string(),
            multihash: mh,
        };
    }
    let digest = Sha256::digest(text.as_bytes());
    let mut mh = vec![0x12, 0x20];
    mh.extend_from_slice(&digest);
    let mut cid = vec![0x01, 0x55];
    cid.extend_from_slice(&mh);
    ContentKey {
        cid: format!("b{}", base32_encode(&cid)),
        multihash: mh,
    }
}

fn parse_cid(text: &str) -> Option<Vec<u8>> {
    if text.len() == 46 && text.starts_with("Qm") {
        let bytes = bs58::decode(text).into_vec().ok()?;
        return (bytes.len() == 34 && bytes[0] == 0x12 && bytes[1] == 0x20).then_some(bytes);
    }
    let bytes = match text.as_bytes().first()? {
        b'b' => base32_decode(&text[1..])?,
        b'B' => base32_decode(&text[1..].to_ascii_lowercase())?,
        b'z' => bs58::decode(&text[1..]).into_vec().ok()?,
        _ => return None,
    };
    let (version, rest) = varint(&bytes)?;
    if version != 1 {
        return None;
    }
    let (_codec, mh) = varint(rest)?;
    let (_code, r) = varint(mh)?;
    let (len, digest) = varint(r)?;
    (digest.len() as u64 == len && len > 0).then(|| mh.to_vec())
}

fn varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let mut v: u64 = 0;
    for (i, byte) in b.iter().enumerate().take(9) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, &b[i + 1..]));
        }
    }
    None
}

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(B32[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(B32[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = B32.iter().position(|&x| x == c)? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
        buf &= (1 << bits) - 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_cid_agree() {
        let k = content_key("hello");
        assert!(k.cid.starts_with("bafkrei"));
        let again = content_key(&k.cid);
        assert_eq!(again.multihash, k.multihash);
        assert_eq!(again.cid, k.cid);
    }
}
