//! Base64 (RFC 4648 section 4, standard alphabet, with `=` padding), the
//! encoding SMTP AUTH (RFC 4954) and MIME (RFC 2045 section 6.8) use.
//! Encoding only: netmon never needs to decode server data.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the base64 text of `input` to `out`, without line breaks.
pub fn encode_into(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(input.len()));
    for chunk in input.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // `chunks(3)` yields 1..=3 bytes: 2..=4 significant sextets.
        let significant = chunk.len() + 1;
        for i in 0..4 {
            if i < significant {
                out.push(sextet(n >> (18 - 6 * i)));
            } else {
                out.push(b'=');
            }
        }
    }
}

fn sextet(v: u32) -> u8 {
    // `& 63` keeps the index inside the 64-byte table.
    ALPHABET.get((v & 63) as usize).copied().unwrap_or(b'A')
}

/// Length of the encoding of `n` bytes (4 characters per started 3 bytes).
pub fn encoded_len(n: usize) -> usize {
    n.div_ceil(3).saturating_mul(4)
}

/// The base64 text of `input` as a `String`.
pub fn encode(input: &[u8]) -> String {
    let mut out = Vec::new();
    encode_into(input, &mut out);
    // The alphabet and `=` are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_test_vectors() {
        // RFC 4648 section 10.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(i.as_bytes()), o, "{i}");
            assert_eq!(encoded_len(i.len()), o.len());
        }
    }

    #[test]
    fn auth_plain_token_matches_rfc4616_example() {
        // RFC 4616 section 4 example: authcid "tim", passwd "tanstaaftanstaaf".
        assert_eq!(
            encode(b"\0tim\0tanstaaftanstaaf"),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
    }

    #[test]
    fn high_bytes_use_plus_and_slash() {
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "+/+/");
    }
}
