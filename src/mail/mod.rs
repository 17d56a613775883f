//! Mail reports: an RFC 5322/MIME message builder and a minimal SMTP
//! client. Pure library code: the caller passes the date text, the
//! message id, the addresses and the server; nothing here reads the
//! clock, the environment or the config.

pub mod base64;
pub mod message;
pub mod smtp;
