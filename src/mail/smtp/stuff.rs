//! The DATA body transform (RFC 5321 sections 4.5.2 and 2.3.8): every
//! line ends in CRLF (a bare LF or a bare CR becomes CRLF), a line that
//! starts with `.` gets one more `.` so the server does not take it for
//! the end of the data, and the body ends with `CRLF . CRLF`.
//!
//! A state machine rather than a search-and-replace, so the body can be
//! fed in any chunks (a file read in pieces, a buffer refilled): the
//! output is the same whatever the split, which the tests check by
//! feeding one input at every split point.

/// Where the stuffer stands between two chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (also the start of the body).
    LineStart,
    /// Inside a line.
    Middle,
    /// Just after a CR whose LF may be in the next chunk.
    AfterCr,
}

/// Streams a message body into its dot-stuffed, CRLF-terminated form.
pub struct DotStuffer {
    state: State,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer::new()
    }
}

impl DotStuffer {
    pub fn new() -> DotStuffer {
        DotStuffer {
            state: State::LineStart,
        }
    }

    /// Appends the transformed `chunk` to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.reserve(chunk.len() + chunk.len() / 32 + 2);
        for &b in chunk {
            self.byte(b, out);
        }
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.state == State::AfterCr {
            out.extend_from_slice(b"\r\n");
            self.state = State::LineStart;
            if b == b'\n' {
                return;
            }
        }
        match b {
            b'\r' => self.state = State::AfterCr,
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                self.state = State::LineStart;
            }
            _ => {
                // RFC 5321 section 4.5.2: "If the first character is a
                // period, one additional period is inserted".
                if self.state == State::LineStart && b == b'.' {
                    out.push(b'.');
                }
                out.push(b);
                self.state = State::Middle;
            }
        }
    }

    /// Ends the body: closes an unterminated last line, then `.CRLF`.
    /// The stuffer is ready for a new body afterwards.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.state != State::LineStart {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        self.state = State::LineStart;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn stuff_chunks(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = DotStuffer::new();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut out);
        }
        s.finish(&mut out);
        out
    }

    /// What a server does with the DATA bytes (RFC 5321 section 4.5.2):
    /// stop at the `.` line, drop one leading dot from the others.
    pub(crate) fn unstuff(wire: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for line in wire.split_inclusive(|&b| b == b'\n') {
            if line == b".\r\n" {
                return Some(out);
            }
            assert!(line.ends_with(b"\r\n"), "line without CRLF: {line:?}");
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        None
    }

    #[test]
    fn dots_crlf_and_terminator() {
        let out = stuff_chunks(&[b".hidden\n..two\nmid.dle\n.\nend"]);
        assert_eq!(
            out,
            b"..hidden\r\n...two\r\nmid.dle\r\n..\r\nend\r\n.\r\n".to_vec()
        );
    }

    #[test]
    fn bare_cr_and_crlf_both_become_one_crlf() {
        assert_eq!(stuff_chunks(&[b"a\r\nb\rc\r"]), b"a\r\nb\r\nc\r\n.\r\n");
        assert_eq!(stuff_chunks(&[b"\r\r\n."]), b"\r\n\r\n..\r\n.\r\n");
    }

    #[test]
    fn empty_body_is_just_the_terminator() {
        assert_eq!(stuff_chunks(&[]), b".\r\n");
        assert_eq!(stuff_chunks(&[b"x\r\n"]), b"x\r\n.\r\n");
    }

    #[test]
    fn output_is_the_same_for_every_split() {
        let input: &[u8] = b".a\r\n.\r\n..\nb\r\rc.\n\r\n.end";
        let whole = stuff_chunks(&[input]);
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let parts = [&input[..i], &input[i..j], &input[j..]];
                assert_eq!(stuff_chunks(&parts), whole, "split at {i},{j}");
            }
        }
        // Byte by byte too.
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(stuff_chunks(&bytes), whole);
    }

    #[test]
    fn unstuffing_restores_a_crlf_body() {
        let body: &[u8] = b".\r\n..x\r\n. \r\nplain\r\n.";
        let wire = stuff_chunks(&[body]);
        assert_eq!(unstuff(&wire).unwrap(), b".\r\n..x\r\n. \r\nplain\r\n.\r\n");
    }
}
