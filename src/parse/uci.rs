//! UCI syntax, lexed by hand the way libuci's `file.c` reads `/etc/config/*`.
//!
//! Stage one of two: a cursor over the text yields `(line, Statement)`
//! records whose words borrow from the text; a word owns a copy only when
//! quotes or backslashes had to be cut out of its middle. Stage two (the
//! config module) gives the statements meaning.
//!
//! What libuci does and this lexer does too: statements `package`,
//! `config`, `option`, `list` (and their one-letter forms `p`, `c`, `o`,
//! `l`) end at a newline or an unquoted `;`; words are separated by blanks
//! (CR counts, so CRLF files read); `'...'` is literal; in `"..."` and in
//! bare words `\x` is a literal `x` and a backslash ending the line joins
//! the next line; pieces next to each other concatenate (`'a'"b"c` is
//! `abc`); an unquoted `#` ends the word and starts a comment that runs to
//! the end of the line; an empty word (`''`) counts as a missing one.
//!
//! Stricter than libuci, on purpose: a quote still open at the end of its
//! line is an error (libuci would carry on into the next line and put a line
//! feed into the value); control characters other than tab are refused in
//! words (values end up in firewall rules and mail headers); a word is at
//! most `MAX_WORD` bytes; extra words are an error (libuci's strict mode,
//! the `uci` tool's default).
//!
//! Invariants: no panic and no out-of-bounds access on any input; no
//! allocation except for words that needed unescaping; line numbers are
//! 1-based; once an error is returned the iterator ends.

use crate::text::{fill, fill_n, suggest, word_index};
use std::borrow::Cow;

/// Longest word (type, name, key or value) accepted, in bytes.
pub const MAX_WORD: usize = 1024;

/// One UCI statement. Empty words have already been turned into `None` or
/// refused, except an `option`/`list` value, which may be empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement<'a> {
    /// `package NAME`: names the config a file belongs to (`uci import`).
    Package { name: Cow<'a, str> },
    /// `config TYPE ['NAME']`: opens a section; no name = anonymous.
    Config {
        ty: Cow<'a, str>,
        name: Option<Cow<'a, str>>,
    },
    /// `option KEY 'VALUE'`.
    Option {
        key: Cow<'a, str>,
        value: Cow<'a, str>,
    },
    /// `list KEY 'VALUE'`: appends one value to a list option.
    List {
        key: Cow<'a, str>,
        value: Cow<'a, str>,
    },
}

/// A syntax error: the 1-based line and the sentence for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: u32,
    pub msg: String,
}

/// The statement keywords, full forms first (the order of suggestions).
const COMMANDS: [&str; 4] = ["config", "option", "list", "package"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Command {
    Package,
    Config,
    Option,
    List,
}

/// An error inside the lexer: the `SyntaxError` itself waits in
/// `Lexer::failure`, so that every `?` on the way out moves nothing.
struct Fail;

/// Cursor over UCI text; an `Iterator` of `(line, Statement)`.
pub struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
    done: bool,
    failure: Option<SyntaxError>,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            text,
            pos: 0,
            line: 1,
            done: false,
            failure: None,
        }
    }

    fn peek_at(&self, at: usize) -> Option<u8> {
        self.text.as_bytes().get(at).copied()
    }

    fn peek(&self) -> Option<u8> {
        self.peek_at(self.pos)
    }

    /// Keeps the error for `next` (on `line`); the `Fail` to return.
    fn fail(&mut self, line: u32, msg: String) -> Fail {
        // The iterator ends at the first error: the slot is written once.
        self.failure = Some(SyntaxError { line, msg });
        Fail
    }

    /// `fail` on the current line.
    fn fail_here(&mut self, msg: String) -> Fail {
        self.fail(self.line, msg)
    }

    /// Skips blanks within the line (libuci's `isspace` minus the newline).
    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    /// Skips a comment up to (not including) the newline.
    fn skip_comment(&mut self) {
        while self.peek().is_some_and(|b| b != b'\n') {
            self.pos += 1;
        }
    }

    /// Moves to the first byte of the next statement, or the end.
    fn skip_to_statement(&mut self) {
        loop {
            self.skip_blanks();
            match self.peek() {
                Some(b'\n') => {
                    self.pos += 1;
                    self.line = self.line.saturating_add(1);
                }
                Some(b';') => self.pos += 1,
                Some(b'#') => self.skip_comment(),
                _ => return,
            }
        }
    }

    fn statement(&mut self) -> Result<Option<(u32, Statement<'a>)>, Fail> {
        self.skip_to_statement();
        if self.peek().is_none() {
            return Ok(None);
        }
        let line = self.line;
        let cmd = self.command()?;
        let mut words: [Option<Cow<'a, str>>; 2] = [None, None];
        let mut n = 0;
        while let Some(w) = self.word()? {
            let Some(slot) = words.get_mut(n) else {
                return Err(self.too_many(line));
            };
            *slot = Some(w).filter(|w| !w.is_empty());
            n += 1;
        }
        let [a, b] = words;
        match build(cmd, a, b) {
            Ok(s) => Ok(Some((line, s))),
            Err(m) => Err(self.fail(line, m)),
        }
    }

    fn too_many(&mut self, line: u32) -> Fail {
        let msg = "too many words in this statement (quote a value that contains spaces, \
                   e.g. option hook 'input forward')";
        self.fail(line, msg.into())
    }

    /// Reads the statement keyword, as libuci does: unquoted, up to a blank.
    fn command(&mut self) -> Result<Command, Fail> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| !is_blank(b) && b != b'\n' && b != b';')
        {
            self.pos += 1;
        }
        let word = self.text.get(start..self.pos).unwrap_or("");
        if let Some(b) = word.bytes().find(|&b| is_control(b)) {
            return Err(self.fail_here(control_msg(b)));
        }
        // Each keyword and its one-letter form, by table.
        const WORDS: [&str; 8] = ["config", "c", "option", "o", "list", "l", "package", "p"];
        const KINDS: [Command; 4] = [
            Command::Config,
            Command::Option,
            Command::List,
            Command::Package,
        ];
        match word_index(word, &WORDS).and_then(|i| KINDS.get(i / 2)) {
            Some(&c) => Ok(c),
            None => Err(self.fail_here(unknown_command(word))),
        }
    }

    /// Reads the next word of the statement, or `None` at its end.
    fn word(&mut self) -> Result<Option<Cow<'a, str>>, Fail> {
        self.skip_blanks();
        match self.peek() {
            None | Some(b'\n') | Some(b';') => return Ok(None),
            Some(b'#') => {
                self.skip_comment();
                return Ok(None);
            }
            Some(_) => {}
        }
        let mut acc = Acc::Empty;
        loop {
            match self.peek() {
                None | Some(b'\n') | Some(b';') => break,
                Some(b'#') => {
                    self.skip_comment();
                    break;
                }
                Some(b) if is_blank(b) => break,
                Some(b'\'') => self.single_quoted(&mut acc)?,
                Some(b'"') => self.double_quoted(&mut acc)?,
                Some(b'\\') => self.backslash(&mut acc)?,
                Some(b) => self.literal(&mut acc, b)?,
            }
        }
        match acc.finish(self.text) {
            Some(w) => Ok(Some(w)),
            None => Err(self.fail_here("a word is not valid UTF-8 text".into())),
        }
    }

    /// Appends the byte at the cursor to the word and moves past it.
    fn literal(&mut self, acc: &mut Acc, b: u8) -> Result<(), Fail> {
        if is_control(b) {
            return Err(self.fail_here(control_msg(b)));
        }
        if !acc.push(self.text.as_bytes(), self.pos) {
            return Err(self.fail_here(too_long_msg()));
        }
        self.pos += 1;
        Ok(())
    }

    /// `'...'`: everything up to the next `'` on the same line, literally.
    fn single_quoted(&mut self, acc: &mut Acc) -> Result<(), Fail> {
        self.pos += 1;
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.unterminated('\'')),
                Some(b'\'') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b) => self.literal(acc, b)?,
            }
        }
    }

    /// `"..."`: up to the next unescaped `"` on the same line.
    fn double_quoted(&mut self, acc: &mut Acc) -> Result<(), Fail> {
        self.pos += 1;
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.unterminated('"')),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => self.backslash(acc)?,
                Some(b) => self.literal(acc, b)?,
            }
        }
    }

    /// `\x` is a literal `x`; `\` before a newline (LF or CRLF) joins the
    /// next line, as libuci's `parse_backslash` does; `\` at the very end
    /// of the text is dropped.
    fn backslash(&mut self, acc: &mut Acc) -> Result<(), Fail> {
        self.pos += 1;
        let newline = match (self.peek(), self.peek_at(self.pos + 1)) {
            (Some(b'\n'), _) => 1,
            (Some(b'\r'), Some(b'\n')) => 2,
            (Some(b), _) => return self.literal(acc, b),
            (None, _) => return Ok(()),
        };
        self.pos += newline;
        self.line = self.line.saturating_add(1);
        Ok(())
    }

    fn unterminated(&mut self, quote: char) -> Fail {
        let q = if quote == '"' { "\"" } else { "'" };
        let m = "the {} quote is not closed on this line (close it; a value cannot span lines)";
        self.fail_here(fill(m, &[q]))
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<(u32, Statement<'a>), SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.statement() {
            Ok(Some(s)) => Some(Ok(s)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(Fail) => {
                self.done = true;
                self.failure.take().map(Err)
            }
        }
    }
}

/// Gives a keyword and its (at most two) non-empty words their shape.
fn build<'a>(
    cmd: Command,
    a: Option<Cow<'a, str>>,
    b: Option<Cow<'a, str>>,
) -> Result<Statement<'a>, String> {
    match cmd {
        Command::Package => {
            let name = a.ok_or("'package' needs a name (write: package 'netmon')")?;
            if b.is_some() {
                return Err("'package' takes one name (write: package 'netmon')".into());
            }
            Ok(Statement::Package { name })
        }
        Command::Config => {
            let ty = a.ok_or("'config' needs a section type (write: config meter 'NAME')")?;
            check_chars("section type", &ty, valid_type_byte)?;
            if let Some(n) = &b {
                check_chars("section name", n, valid_name_byte)?;
            }
            Ok(Statement::Config { ty, name: b })
        }
        Command::Option | Command::List => {
            let kw = if cmd == Command::List {
                "list"
            } else {
                "option"
            };
            let key = a.ok_or_else(|| needs_key(kw))?;
            check_chars("option name", &key, valid_name_byte)?;
            let value = b.unwrap_or(Cow::Borrowed(""));
            Ok(match cmd {
                Command::List => Statement::List { key, value },
                _ => Statement::Option { key, value },
            })
        }
    }
}

fn needs_key(kw: &str) -> String {
    fill(
        "'{}' needs an option name (write: {} NAME 'VALUE')",
        &[kw, kw],
    )
}

/// libuci `uci_validate_name`: section and option names are `[A-Za-z0-9_]`.
fn valid_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// libuci `uci_validate_type`: printable ASCII without blanks.
fn valid_type_byte(b: u8) -> bool {
    b.is_ascii_graphic()
}

fn check_chars(what: &str, word: &str, ok: fn(u8) -> bool) -> Result<(), String> {
    if word.bytes().all(ok) {
        return Ok(());
    }
    let m = "{} '{}' has a character UCI does not allow (use letters, digits and _)";
    Err(fill(m, &[what, word]))
}

fn unknown_command(word: &str) -> String {
    let m = fill("unknown statement '{}'", &[word]);
    suggest(
        &m,
        word,
        &COMMANDS,
        " (a statement starts with config, option or list)",
    )
}

fn control_msg(b: u8) -> String {
    let what = match b {
        b'\r' => "a carriage return",
        0 => "a NUL byte",
        0x1b => "an escape character",
        _ => "a control character",
    };
    let m = "this line holds {} (byte {}); remove it (values may contain tabs but no other \
             control characters)";
    fill_n(m, &[what], usize::from(b))
}

fn too_long_msg() -> String {
    fill_n("a word is longer than {} bytes; shorten it", &[], MAX_WORD)
}

/// Blanks between words: libuci's `isspace` without the newline.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

/// Bytes refused inside words: ASCII controls except tab, and DEL.
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// The bytes of a word being read: a range of the text while the word is
/// one contiguous run, an owned copy once quotes or escapes split it.
enum Acc {
    Empty,
    Range(usize, usize),
    Owned(Vec<u8>),
}

impl Acc {
    /// Appends the byte at `at`; false when the word would exceed `MAX_WORD`.
    fn push(&mut self, text: &[u8], at: usize) -> bool {
        let byte = text.get(at..at + 1).unwrap_or(&[]);
        match self {
            Acc::Empty => *self = Acc::Range(at, at + 1),
            Acc::Range(_, end) if *end == at => *end = at + 1,
            Acc::Range(start, end) => {
                let mut v = text.get(*start..*end).unwrap_or(&[]).to_vec();
                v.extend_from_slice(byte);
                *self = Acc::Owned(v);
            }
            Acc::Owned(v) => v.extend_from_slice(byte),
        }
        self.len() <= MAX_WORD
    }

    fn len(&self) -> usize {
        match self {
            Acc::Empty => 0,
            Acc::Range(s, e) => e.saturating_sub(*s),
            Acc::Owned(v) => v.len(),
        }
    }

    /// The word. Only ASCII delimiters are ever cut out, so the bytes left
    /// are whole UTF-8 characters; `None` would mean a bug, not bad input.
    fn finish(self, text: &str) -> Option<Cow<'_, str>> {
        match self {
            Acc::Empty => Some(Cow::Borrowed("")),
            Acc::Range(s, e) => text.get(s..e).map(Cow::Borrowed),
            Acc::Owned(v) => String::from_utf8(v).ok().map(Cow::Owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> Result<Vec<(u32, Statement<'_>)>, SyntaxError> {
        Lexer::new(text).collect()
    }

    fn opt<'a>(key: &'a str, value: &'a str) -> Statement<'a> {
        Statement::Option {
            key: key.into(),
            value: value.into(),
        }
    }

    fn err_line(text: &str) -> (u32, String) {
        let e = lex(text).unwrap_err();
        (e.line, e.msg)
    }

    #[test]
    fn sections_options_lists_and_line_numbers() {
        let t = "# head\n\nconfig meter 'proxy'\n\toption hook 'input'\n  list hook forward\n";
        let s = lex(t).unwrap();
        assert_eq!(
            s,
            vec![
                (
                    3,
                    Statement::Config {
                        ty: "meter".into(),
                        name: Some("proxy".into())
                    }
                ),
                (4, opt("hook", "input")),
                (
                    5,
                    Statement::List {
                        key: "hook".into(),
                        value: "forward".into()
                    }
                ),
            ]
        );
    }

    #[test]
    fn plain_words_borrow_from_the_text() {
        let s = lex("option src '10.0.0.0/8'\noption dst bare").unwrap();
        for (_, st) in &s {
            let Statement::Option { key, value } = st else {
                panic!()
            };
            assert!(matches!(key, Cow::Borrowed(_)));
            assert!(matches!(value, Cow::Borrowed(_)));
        }
    }

    #[test]
    fn quotes_escapes_and_concatenation() {
        let t = r#"option a "x \"y\" \\ z"
option b 'it''s'
option c 'a'"b"c
option d "it's # not a comment"
option e 'single \ backslash'
option f bare\ word
option g caf\é
option h 'x # y;z'
"#;
        let s = lex(t).unwrap();
        let values: Vec<&str> = s
            .iter()
            .map(|(_, st)| match st {
                Statement::Option { value, .. } => value.as_ref(),
                _ => panic!(),
            })
            .collect();
        assert_eq!(
            values,
            [
                "x \"y\" \\ z",
                "its",
                "abc",
                "it's # not a comment",
                "single \\ backslash",
                "bare word",
                "café",
                "x # y;z"
            ]
        );
    }

    #[test]
    fn comments_semicolons_and_short_forms() {
        let t = "c meter x # trailing\no hook input;o src 10.0.0.1#tail\n#o dst 1\n";
        let s = lex(t).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[1], (2, opt("hook", "input")));
        assert_eq!(s[2], (2, opt("src", "10.0.0.1")));
    }

    #[test]
    fn backslash_newline_joins_lines_and_keeps_the_statement_line() {
        let t = "config meter wan\noption hook \"inp\\\nut\"\r\noption iif eth0\\\r\n1\n";
        let s = lex(t).unwrap();
        assert_eq!(s[1], (2, opt("hook", "input")));
        assert_eq!(s[2], (4, opt("iif", "eth01")));
    }

    #[test]
    fn crlf_files_read_like_lf_files() {
        let s = lex("config meter 'a'\r\n\toption hook 'input'\r\n").unwrap();
        assert_eq!(s[1], (2, opt("hook", "input")));
    }

    #[test]
    fn empty_words_are_missing_words() {
        let s = lex("config meter ''\noption hook").unwrap();
        assert_eq!(
            s[0].1,
            Statement::Config {
                ty: "meter".into(),
                name: None
            }
        );
        assert_eq!(s[1].1, opt("hook", ""));
        assert!(err_line("config ''").1.contains("needs a section type"));
    }

    #[test]
    fn open_quotes_are_errors_on_their_line() {
        let (line, msg) = err_line("config meter a\noption src '10.0.0.1\nX'\n");
        assert_eq!(line, 2);
        assert!(msg.contains("' quote is not closed"), "{msg}");
        assert_eq!(err_line("\n\noption a \"x").0, 3);
    }

    #[test]
    fn control_characters_are_refused_on_their_line() {
        for (text, line) in [
            ("option a 'x\ry'", 1),
            ("\noption a \"x\0y\"", 2),
            ("\n\noption a x\x01y", 3),
            ("option a 'x\x7f'", 1),
            ("opt\x1bion a b", 1),
            ("option a \"x\\\ry\"", 1),
        ] {
            let (l, msg) = err_line(text);
            assert_eq!(l, line, "{text:?}");
            assert!(msg.contains("control characters"), "{msg}");
        }
        // A tab is fine, inside quotes and out.
        assert_eq!(lex("option a 'x\ty'").unwrap()[0].1, opt("a", "x\ty"));
    }

    #[test]
    fn words_are_bounded() {
        let ok = "x".repeat(MAX_WORD);
        assert!(lex(&format!("option a '{ok}'")).is_ok());
        let (l, msg) = err_line(&format!("\noption a '{ok}x'"));
        assert_eq!(l, 2);
        assert!(msg.contains("longer than 1024 bytes"), "{msg}");
    }

    #[test]
    fn statement_shape_errors() {
        let cases = [
            (
                "optoin a b",
                "unknown statement 'optoin' (did you mean 'option'?)",
            ),
            (
                "frobnicate",
                "unknown statement 'frobnicate' (a statement starts with config, option or list)",
            ),
            (
                "option hook input forward",
                "too many words in this statement",
            ),
            ("config", "'config' needs a section type"),
            ("option", "'option' needs an option name"),
            ("list ''", "'list' needs an option name"),
            (
                "option a-b c",
                "option name 'a-b' has a character UCI does not allow",
            ),
            (
                "config meter 'my meter'",
                "section name 'my meter' has a character",
            ),
            ("package", "'package' needs a name"),
        ];
        for (text, want) in cases {
            let (l, msg) = err_line(&format!("\n{text}\n"));
            assert_eq!(l, 2, "{text}");
            assert!(msg.starts_with(want), "{text}: {msg}");
        }
    }

    #[test]
    fn iteration_stops_after_an_error() {
        let mut l = Lexer::new("bogus\nconfig meter a\n");
        assert!(matches!(l.next(), Some(Err(_))));
        assert!(l.next().is_none());
    }
}
