//! Mail reports: an RFC 5322/MIME message builder (`message`), a minimal
//! SMTP client (`smtp`), the validated `config mail` section (`config`),
//! the on-disk spool of undelivered messages (`spool`) and the piece the
//! app calls (`deliver`: build, send or spool, retry). Nothing here reads
//! the clock, the environment or the config file: the caller passes the
//! time, the host name, the `MailConfig` and the spool directory.

pub mod base64;
pub mod config;
pub mod deliver;
pub mod message;
pub mod smtp;
pub mod spool;

/// `parts` joined: the one builder of the mail code's sentences (an
/// inlined `push_str` per piece costs more code than a slice of them).
pub(crate) fn cat(parts: &[&str]) -> String {
    let mut s = String::new();
    push_all(&mut s, parts);
    s
}

/// Appends `parts` to `s` (see `cat`).
pub(crate) fn push_all(s: &mut String, parts: &[&str]) {
    for p in parts {
        s.push_str(p);
    }
}
