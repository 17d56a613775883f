//! netmon as a CGI program (`/www/cgi-bin/netmon`, a link to the binary):
//! a read-only page of the usage, and the JSON report.
//!
//! Read-only by design: uhttpd's cgi-bin asks for no login, so anyone on
//! the LAN can load it, and nothing it does may change anything. It takes
//! no lock, runs no firewall tool and writes no file: it renders the state
//! as cron's last `netmon update` saved it (the RAM copy, else the flash
//! copy; both are replaced atomically, so a read sees a whole file), and
//! the page says when that was. A page never waits for another netmon, and
//! loading it a thousand times costs the router only file reads.
//!
//! The request: `GET` only (anything else: 405 with `Allow: GET`); no query
//! (the page) or `format=html`, or `format=json` (what `netmon report
//! --format json` shows, up to the last update); any other query is a 400.
//! Every answer, errors included, is a whole page with the same headers:
//! no caching, no sniffing, and a Content-Security-Policy that allows no
//! script and nothing from elsewhere.
//!
//! `main` reads the CGI environment (`GATEWAY_INTERFACE`,
//! `REQUEST_METHOD`, `QUERY_STRING`) and passes it in as a `Request`; the
//! command line of a wrapper script may still give the global options
//! (`--config`, `--state-dir`, `--persist-dir`).

use super::ctx::Ctx;
use crate::cli::{self, Parsed};
use crate::report::{self, page, Report};
use crate::text::{fill, Buf};
use crate::{store, sys};

/// What `main` read from the CGI environment.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Request {
    pub method: String,
    pub query: String,
}

/// What the query asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Want {
    Page,
    Json,
}

/// Longest query read; a longer one is refused (no legitimate one is).
pub const MAX_QUERY: usize = 64;

/// Headers every answer carries (CRLF: passed through to HTTP as is).
const HEADERS: &str = "Cache-Control: no-store\r\n\
X-Content-Type-Options: nosniff\r\n\
Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n\
Referrer-Policy: no-referrer\r\n";

const HTML: &str = "text/html; charset=utf-8";

/// Parses `QUERY_STRING`: empty, `format=html` or `format=json`, each key
/// once. `Err` holds what is wrong, for the 400 page.
pub fn parse_query(q: &str) -> Result<Want, String> {
    if q.len() > MAX_QUERY {
        return Err("the query is too long".into());
    }
    let mut want = None;
    for pair in q.split('&').filter(|_| !q.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(fill("'{}' is not key=value", &[pair]));
        };
        if key != "format" {
            return Err(fill("unknown key '{}' (only format is known)", &[key]));
        }
        if want.is_some() {
            return Err("format is given twice".into());
        }
        want = Some(match value {
            "html" => Want::Page,
            "json" => Want::Json,
            _ => return Err(fill("unknown format '{}' (html or json)", &[value])),
        });
    }
    Ok(want.unwrap_or(Want::Page))
}

/// One answer: status line, content type, body.
struct Response {
    status: &'static str,
    allow: bool,
    content_type: &'static str,
    body: Buf,
}

impl Response {
    /// An HTML error page.
    fn error(status: &'static str, message: &str) -> Response {
        let mut body = Buf::new();
        page::error_page(&mut body, status, message);
        Response {
            status,
            allow: false,
            content_type: HTML,
            body,
        }
    }

    /// The CGI answer: `Status` first (busybox httpd reads it only there).
    fn write(self, out: &mut Buf) {
        out.fill("Status: {}\r\n", &[self.status]);
        if self.allow {
            out.push_bytes(b"Allow: GET\r\n");
        }
        out.fill("Content-Type: {}\r\n", &[self.content_type]);
        out.push_bytes(HEADERS.as_bytes());
        out.push_bytes(b"\r\n");
        out.push_bytes(self.body.as_bytes());
    }
}

/// The whole CGI answer to `req`. `args`: the command line (a wrapper
/// script's global options). Warnings go to `warn` (the server's log).
pub fn respond(args: &[&str], req: &Request, warn: &mut Buf) -> Buf {
    let mut out = Buf::new();
    answer(args, req, warn).write(&mut out);
    out
}

fn answer(args: &[&str], req: &Request, warn: &mut Buf) -> Response {
    if req.method != "GET" {
        let mut r = Response::error(
            "405 Method Not Allowed",
            "This page only reads: it answers GET, nothing else.",
        );
        r.allow = true;
        return r;
    }
    let want = match parse_query(&req.query) {
        Ok(w) => w,
        Err(why) => {
            let msg = fill(
                "{}. Ask for /cgi-bin/netmon, or /cgi-bin/netmon?format=json.",
                &[&why],
            );
            return Response::error("400 Bad Request", &msg);
        }
    };
    match render(args, want, warn) {
        Ok(r) => r,
        Err(msg) => Response::error("500 Internal Server Error", &msg),
    }
}

/// The page or the JSON, from the saved state; `Err`: what to do.
fn render(args: &[&str], want: Want, warn: &mut Buf) -> Result<Response, String> {
    let cmd = match cli::parse(args) {
        Ok(Parsed::Run(c)) => c,
        Ok(Parsed::Help(_)) => return Err("the cgi-bin script asks netmon for its help".into()),
        Err(e) => return Err(fill("the cgi-bin script's options: {}", &[e.message()])),
    };
    let cx = Ctx::new(&cmd, warn).map_err(|e| e.message().to_string())?;
    let Some(st) = store::peek_state(&cx.state_dir, &cx.persist_dir) else {
        return Err(fill(
            "netmon has no state yet (nothing readable in {} or {}): run netmon start on the \
             router; cron's netmon update then keeps it current.",
            &[&cx.state_dir, &cx.persist_dir],
        ));
    };
    let firewall = sys::read_text("/etc/config/firewall").unwrap_or_default();
    let offload = crate::config::offload(&firewall);
    let configured = cx.names();
    let mut body = Buf::new();
    let content_type = match want {
        Want::Json => {
            let mut r = Report::of(&st, &configured, st.updated, cx.cal.zone);
            r.offload = offload;
            report::json::render(&r, &mut body);
            "application/json"
        }
        Want::Page => {
            let p = page::Page {
                st: &st,
                configured: &configured,
                quotas: &cx.cfg.quotas,
                cal: &cx.cal,
                now: cx.now,
                offload,
            };
            page::render(&p, &mut body);
            HTML
        }
    };
    Ok(Response {
        status: "200 OK",
        allow: false,
        content_type,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_page_json_and_refusals() {
        for (q, want) in [
            ("", Want::Page),
            ("format=html", Want::Page),
            ("format=json", Want::Json),
        ] {
            assert_eq!(parse_query(q), Ok(want), "{q}");
        }
        for bad in [
            "format=xml",
            "format=JSON",
            "format",
            "format=json&format=json",
            "format=json&",
            "&",
            "=",
            "x=1",
            "format=json&x=1",
            "format=%6Aso%6E",
            "format=json;x",
            "<script>",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
        assert!(parse_query(&"a".repeat(MAX_QUERY + 1)).is_err());
        assert_eq!(
            parse_query("x=1").unwrap_err(),
            "unknown key 'x' (only format is known)"
        );
    }

    fn text(args: &[&str], method: &str, query: &str) -> String {
        let req = Request {
            method: method.into(),
            query: query.into(),
        };
        respond(args, &req, &mut Buf::new()).into_string()
    }

    #[test]
    fn other_methods_get_405_with_allow_before_anything_is_read() {
        for m in ["POST", "PUT", "DELETE", "HEAD", "get", ""] {
            // A config that does not exist: not read for a refused method.
            let t = text(&["--config", "/nonexistent/netmon"], m, "");
            assert!(
                t.starts_with("Status: 405 Method Not Allowed\r\nAllow: GET\r\n"),
                "{t}"
            );
            assert!(
                t.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"),
                "{t}"
            );
            assert!(t.contains("\r\nCache-Control: no-store\r\n"), "{t}");
        }
    }

    #[test]
    fn a_bad_query_is_400_and_quoted_escaped() {
        let t = text(&["--config", "/nonexistent/netmon"], "GET", "x=<b>");
        assert!(t.starts_with("Status: 400 Bad Request\r\n"), "{t}");
        assert!(t.contains("unknown key &#39;x&#39;"), "{t}");
        let t = text(&[], "GET", "format=<b>");
        assert!(t.contains("&lt;b&gt;") && !t.contains("<b>"), "{t}");
    }

    #[test]
    fn a_failure_is_a_whole_500_page_that_says_what_to_do() {
        let t = text(&["--config", "/nonexistent/netmon"], "GET", "format=json");
        let (head, body) = t.split_once("\r\n\r\n").expect("headers end");
        assert!(
            head.starts_with("Status: 500 Internal Server Error\r\n"),
            "{t}"
        );
        assert!(head.contains(
            "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        ));
        assert!(head.contains("X-Content-Type-Options: nosniff"));
        assert!(body.starts_with("<!DOCTYPE html>") && body.ends_with("</html>\n"));
        assert!(body.contains("/nonexistent/netmon"), "{body}");
    }

    #[test]
    fn no_state_yet_is_a_500_that_says_run_start_and_creates_nothing() {
        let dir = std::env::temp_dir().join(format!("netmon-cgi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cfg = dir.join("netmon");
        let meter = "config meter 'proxy'\n\toption hook 'input'\n\toption src '192.168.1.10'\n";
        std::fs::write(&cfg, meter).expect("config");
        let (st, flash) = (dir.join("state"), dir.join("flash"));
        let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
        let (c, s, f) = (path(&cfg), path(&st), path(&flash));
        let args = [
            "--config",
            &c,
            "--state-dir",
            &s,
            "--persist-dir",
            &f,
            "--backend",
            "nft",
        ];
        let t = text(&args, "GET", "");
        let created = st.exists() || flash.exists();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            t.starts_with("Status: 500 Internal Server Error\r\n"),
            "{t}"
        );
        assert!(t.contains("netmon has no state yet"), "{t}");
        assert!(t.contains("run netmon start on the router"), "{t}");
        assert!(!created, "read-only: nothing created");
    }
}
