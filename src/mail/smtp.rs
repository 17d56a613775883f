//! A minimal SMTP client (RFC 5321, AUTH per RFC 4954), no TLS: providers
//! that need TLS go through `transport sendmail` instead.
//!
//! Pure pieces, each tested alone: `command` (one type per verb, rendered
//! as wire bytes), `reply` (bounded reply reader and parser), `stuff`
//! (the dot-stuffing state machine), `envelope` (validated inputs).
//! `session` runs the dialogue over any `BufRead + Write`; `net` is the
//! only part that touches a socket.

pub mod command;
pub mod envelope;
pub mod net;
pub mod reply;
pub mod session;
pub mod stuff;

pub use envelope::{Credentials, Envelope, Mechanism};
pub use net::{connect, send, Connection};
pub use reply::{Reply, MAX_LINE, MAX_REPLY_LINES};
pub use session::{Failure, Outcome, Rejection, Session, Stage, MAX_REASON};
pub use stuff::DotStuffer;
