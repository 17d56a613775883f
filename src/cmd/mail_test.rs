//! `netmon mail-test`: send a short test message with the mail settings
//! and say what the server answered.

use super::ctx::Ctx;
use crate::error::{Error, Result};
use crate::mail::deliver::{build_test_message, Mailer};
use crate::mail::smtp::Outcome;
use crate::sys;
use crate::text::{fill, Buf};

pub fn run(cx: &Ctx, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    let Some(m) = cx.mail() else {
        return Err(Error::config(
            "mail-test needs an enabled config mail 'mail' section in the config file",
        ));
    };
    let host = m.host_name(&sys::hostname());
    if let Some(p) = &host.problem {
        warn.fill("{}\n", &[p]);
    }
    let spool = cx.spool_dir();
    let mailer = Mailer::new(m, &host.text, &spool);
    let msg = build_test_message(m, &host.text, cx.now)?;
    match mailer.attempt(&mailer.envelope()?, &msg) {
        Outcome::Delivered { rejected } if rejected.is_empty() => {
            out.push_bytes(b"netmon: test message accepted for ");
            for (i, to) in m.to.iter().enumerate() {
                out.push_bytes(if i == 0 { b"" } else { b", " });
                out.push_bytes(to.as_bytes());
            }
            out.push_bytes(b"\n");
            Ok(())
        }
        Outcome::Delivered { rejected } => {
            let mut b = Buf::new();
            b.push_bytes(b"test message delivered, but the server refused");
            for (i, x) in rejected.iter().enumerate() {
                b.push_bytes(if i == 0 { b" " } else { b"; " });
                b.push_bytes(x.reason.as_bytes());
            }
            Err(Error::runtime(b.as_str()))
        }
        Outcome::Transient(f) | Outcome::Permanent(f) => Err(Error::runtime(fill(
            "test message not delivered: {}",
            &[&f.reason],
        ))),
    }
}
