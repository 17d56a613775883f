//! `netmon daily`: usage per day or billing month from the state's
//! buckets (`render_rows`), or, like the blog's graph script, from a log of
//! running totals (`render`). The first line after the header is the
//! baseline; a value lower than the one before is a reset (the new value
//! is the usage). Streaming: memory is one day's sums, whatever the log size.
//! Torn or foreign lines (a crash mid-append) are skipped.

use crate::meter::MAX_METERS;
use crate::text::Buf;
use crate::time::{day_of, parse_log_stamp, write_date};
use crate::units::write_mib;
use std::io::BufRead;

/// How `daily` writes its table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DailyFormat {
    Tsv,
    Csv,
    Json,
}

/// Longest log line considered; longer ones are skipped as damaged.
const MAX_LOG_LINE: usize = 4096;

type Sums = heapless::Vec<u64, MAX_METERS>;

struct Out<'a> {
    fmt: DailyFormat,
    names: Vec<String>,
    first: &'static str,
    b: &'a mut Buf,
    rows: usize,
}

impl Out<'_> {
    fn header(&mut self) {
        match self.fmt {
            DailyFormat::Json if self.first == "Date" => {
                self.b.push_bytes(b"{\"unit\":\"bytes\",\"days\":[")
            }
            DailyFormat::Json => self.b.push_bytes(b"{\"unit\":\"bytes\",\"months\":["),
            DailyFormat::Tsv | DailyFormat::Csv => {
                let sep: &[u8] = if self.fmt == DailyFormat::Csv {
                    b","
                } else {
                    b"\t"
                };
                self.b.push_bytes(self.first.as_bytes());
                for n in &self.names {
                    self.b.push_bytes(sep);
                    self.b.push_bytes(n.as_bytes());
                }
                self.b.push_bytes(b"\n");
            }
        }
    }

    fn row(&mut self, day: i64, sums: &[u64]) {
        let b = &mut *self.b;
        if self.fmt == DailyFormat::Json {
            if self.rows > 0 {
                b.push_bytes(b",");
            }
            b.push_bytes(if self.first == "Date" {
                b"{\"date\":\""
            } else {
                b"{\"start\":\""
            });
            let _ = write_date(b, day);
            b.push_bytes(b"\",\"bytes\":{");
            for (i, (n, v)) in self.names.iter().zip(sums.iter()).enumerate() {
                if i > 0 {
                    b.push_bytes(b",");
                }
                super::json::write_string(b, n);
                let _ = ufmt::uwrite!(b, ":{}", *v);
            }
            b.push_bytes(b"}}");
        } else {
            let sep: &[u8] = if self.fmt == DailyFormat::Csv {
                b","
            } else {
                b"\t"
            };
            let _ = write_date(b, day);
            for v in sums {
                b.push_bytes(sep);
                let _ = write_mib(b, *v);
            }
            b.push_bytes(b"\n");
        }
        self.rows += 1;
    }

    fn end(&mut self) {
        if self.fmt == DailyFormat::Json {
            self.b.push_bytes(b"]}\n");
        }
    }
}

/// Parses one data line into its time and values; `None` if malformed.
fn data_line(line: &str, n: usize) -> Option<(i64, Sums)> {
    let mut f = line.split('\t');
    let t = parse_log_stamp(f.next()?)?;
    let mut v = Sums::new();
    for _ in 0..n {
        let x = f.next()?;
        if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        v.push(crate::text::parse_u64(x).ok()?).ok()?;
    }
    f.next().is_none().then_some((t, v))
}

/// Renders per-day usage of the log read from `r`. An empty or missing
/// log gives just the header.
pub fn render<R: BufRead>(mut r: R, fmt: DailyFormat, b: &mut Buf) -> std::io::Result<usize> {
    let mut line = Vec::with_capacity(256);
    let mut names = Vec::new();
    if read_line(&mut r, &mut line)? {
        let text = core::str::from_utf8(&line).unwrap_or("");
        for (i, name) in text.split('\t').enumerate() {
            if names.len() == MAX_METERS {
                break;
            }
            if i > 0 {
                names.push(String::from(name));
            }
        }
    }
    let mut out = Out {
        fmt,
        names,
        first: "Date",
        b,
        rows: 0,
    };
    out.header();
    let n = out.names.len();
    let mut last: Option<Sums> = None;
    let mut day: Option<(i64, Sums)> = None;
    while read_line(&mut r, &mut line)? {
        let Some((t, vals)) = core::str::from_utf8(&line)
            .ok()
            .and_then(|l| data_line(l, n))
        else {
            continue;
        };
        let Some(prev) = last.replace(vals.clone()) else {
            continue; // baseline
        };
        let d = day_of(t);
        if let Some((cur, sums)) = &day {
            if *cur != d {
                out.row(*cur, sums);
                day = None;
            }
        }
        let (_, sums) = day.get_or_insert_with(|| (d, (0..n).map(|_| 0).collect()));
        for ((s, v), p) in sums.iter_mut().zip(vals.iter()).zip(prev.iter()) {
            let delta = if v >= p { v - p } else { *v };
            *s = s.saturating_add(delta);
        }
    }
    if let Some((cur, sums)) = &day {
        out.row(*cur, sums);
    }
    out.end();
    Ok(out.rows)
}

/// Renders rows of (first day, bytes per meter): days (`first` = "Date")
/// or billing months (`first` = "Start", the period's first day).
pub fn render_rows(
    names: &[&str],
    fmt: DailyFormat,
    first: &'static str,
    rows: impl Iterator<Item = (i64, Vec<u64>)>,
    b: &mut Buf,
) {
    let mut out = Out {
        fmt,
        names: names.iter().map(|n| String::from(*n)).collect(),
        first,
        b,
        rows: 0,
    };
    out.header();
    for (day, v) in rows {
        out.row(day, &v);
    }
    out.end();
}

/// Reads one line without its newline into `buf`; over-long lines are
/// replaced by an empty (hence skipped) line. False at end of input.
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    let mut too_long = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(!buf.is_empty() || too_long);
        }
        let (take, done) = match chunk.iter().position(|&c| c == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if buf.len() + take <= MAX_LOG_LINE {
            buf.extend_from_slice(&chunk[..take]);
        } else {
            too_long = true;
            buf.clear();
        }
        r.consume(if done { take + 1 } else { take });
        if done {
            if too_long {
                buf.clear();
            }
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "time\tproxy\toffnet\n\
2026/11/20-23:55:00\t1000\t0\n\
2026/11/20-23:59:00\t1048576\t10\n\
2026/11/21-00:04:00\t2097152\t20\n\
2026/11/21-00:09\t99\n\
2026/11/21-12:00:00\t524288\t30\n";

    fn run(log: &str, fmt: DailyFormat) -> String {
        let mut b = Buf::new();
        render(log.as_bytes(), fmt, &mut b).unwrap();
        b.as_str().to_string()
    }

    #[test]
    fn per_day_with_reset_and_torn_line() {
        // Day 1: 1048576-1000 proxy. Day 2: 1048576 then a reset (524288 counted whole).
        assert_eq!(
            run(LOG, DailyFormat::Tsv),
            "Date\tproxy\toffnet\n2026-11-20\t1.00\t0.00\n2026-11-21\t1.50\t0.00\n"
        );
        assert_eq!(
            run(LOG, DailyFormat::Csv).lines().nth(2),
            Some("2026-11-21,1.50,0.00")
        );
    }

    #[test]
    fn json_has_exact_bytes() {
        assert_eq!(
            run(LOG, DailyFormat::Json),
            "{\"unit\":\"bytes\",\"days\":[{\"date\":\"2026-11-20\",\"bytes\":{\"proxy\":1047576,\"offnet\":10}},{\"date\":\"2026-11-21\",\"bytes\":{\"proxy\":1572864,\"offnet\":20}}]}\n"
        );
    }

    #[test]
    fn bucket_rows() {
        let mut b = Buf::new();
        let rows = vec![(20_000i64, vec![1_572_864u64, 0]), (20_001, vec![0, 5243])];
        render_rows(
            &["a", "b"],
            DailyFormat::Tsv,
            "Date",
            rows.clone().into_iter(),
            &mut b,
        );
        assert_eq!(
            b.as_str(),
            "Date\ta\tb\n2024-10-04\t1.50\t0.00\n2024-10-05\t0.00\t0.01\n"
        );
        b.clear();
        render_rows(
            &["a"],
            DailyFormat::Json,
            "Start",
            rows.into_iter().take(1),
            &mut b,
        );
        assert_eq!(b.as_str(), "{\"unit\":\"bytes\",\"months\":[{\"start\":\"2024-10-04\",\"bytes\":{\"a\":1572864}}]}\n");
    }

    #[test]
    fn header_names_at_most_max_meters() {
        let names: Vec<String> = (0..MAX_METERS + 3).map(|i| format!("m{i}")).collect();
        let log = format!("time\t{}\n", names.join("\t"));
        let want = format!("Date\t{}\n", names[..MAX_METERS].join("\t"));
        assert_eq!(run(&log, DailyFormat::Tsv), want);
        assert_eq!(run("time\n", DailyFormat::Tsv), "Date\n");
        assert_eq!(run("time\t\tb\n", DailyFormat::Tsv), "Date\t\tb\n");
    }

    #[test]
    fn empty_log_and_over_long_lines() {
        assert_eq!(run("", DailyFormat::Tsv), "Date\n");
        let long = "x".repeat(10_000);
        let log =
            "time\ta\n2026/01/01-00:00:00\t0\n".to_string() + &long + "\n2026/01/01-01:00:00\t5\n";
        assert_eq!(
            run(&log, DailyFormat::Json),
            "{\"unit\":\"bytes\",\"days\":[{\"date\":\"2026-01-01\",\"bytes\":{\"a\":5}}]}\n"
        );
    }
}
