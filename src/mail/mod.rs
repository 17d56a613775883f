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
