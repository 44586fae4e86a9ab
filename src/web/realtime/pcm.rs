//! The Realtime protocol's audio on the wire: little-endian 16-bit PCM, mono, in standard
//! base64 (RFC 4648, with padding), to and from the pipeline's `f32` samples.

/// Why an append's audio could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PcmError {
    /// Not base64.
    #[error("the audio is not base64 (a character outside the standard alphabet at byte {0})")]
    NotBase64(usize),
    /// Base64 whose length is not a whole number of 4-character groups.
    #[error("the audio's base64 is {0} characters long, not a multiple of 4")]
    BadLength(usize),
    /// An odd number of bytes: not whole 16-bit samples.
    #[error("the audio is {0} bytes, not whole 16-bit samples")]
    OddBytes(usize),
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The sample value of one base64 character.
fn sextet(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// How many bytes `text` (base64) decodes to, without decoding it: for refusing an oversized
/// append before its audio is read.
pub fn decoded_len(text: &str) -> usize {
    let pad = text.bytes().rev().take_while(|&b| b == b'=').count().min(2);
    (text.len() / 4 * 3).saturating_sub(pad)
}

/// Decodes base64 `text`.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, PcmError> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(PcmError::BadLength(bytes.len()));
    }
    let mut out = Vec::with_capacity(decoded_len(text));
    for (g, group) in bytes.chunks_exact(4).enumerate() {
        let last = g + 1 == bytes.len() / 4;
        let pad = if last {
            group.iter().rev().take_while(|&&b| b == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return Err(PcmError::NotBase64(g * 4 + 1));
        }
        let mut n = 0u32;
        for (i, &c) in group.iter().enumerate() {
            let v = if i >= 4 - pad {
                0
            } else {
                sextet(c).ok_or(PcmError::NotBase64(g * 4 + i))?
            };
            n = (n << 6) | v;
        }
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&three[..3 - pad]);
    }
    Ok(out)
}

/// Encodes `bytes` as base64.
pub fn encode_base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The samples of base64 PCM16 `text`, in [-1, 1).
pub fn decode_pcm16(text: &str) -> Result<Vec<f32>, PcmError> {
    let bytes = decode_base64(text)?;
    if !bytes.len().is_multiple_of(2) {
        return Err(PcmError::OddBytes(bytes.len()));
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect())
}

/// `samples` as base64 PCM16 (clipped to the 16-bit range).
pub fn encode_pcm16(samples: &[f32]) -> String {
    let mut bytes = Vec::with_capacity(samples.len() * 2);
    for &s in samples {
        let v = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    encode_base64(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_test_vectors_both_ways() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in vectors {
            assert_eq!(encode_base64(plain.as_bytes()), coded);
            assert_eq!(decode_base64(coded).unwrap(), plain.as_bytes());
            assert_eq!(decoded_len(coded), plain.len());
        }
    }

    #[test]
    fn bad_base64_and_half_samples_are_refused_with_the_reason() {
        assert_eq!(decode_base64("Zm9"), Err(PcmError::BadLength(3)));
        assert_eq!(decode_base64("Zm!v"), Err(PcmError::NotBase64(2)));
        assert_eq!(decode_pcm16("Zm9v"), Err(PcmError::OddBytes(3)));
    }

    #[test]
    fn pcm16_round_trips_within_one_step() {
        let samples = [0.0, 0.5, -0.5, 0.999, -1.0, 0.123];
        let back = decode_pcm16(&encode_pcm16(&samples)).unwrap();
        for (a, b) in samples.iter().zip(&back) {
            assert!((a - b).abs() <= 1.0 / 32768.0, "{a} {b}");
        }
    }
}
