//! Templates of declarative requests: `{{uuid()}}`, `{{int(a, b)}}`, `{{pick(a, b, ...)}}`,
//! `{{env(NAME)}}`, `{{capture_name}}` and `{{data_column}}` inside a path, header, body or
//! params.
//!
//! A template is compiled once, when the scenario file is loaded, into a list of parts; a
//! request only walks the list. So a misspelt function or a name that is neither a capture
//! nor a data column is an error at load (with its place in the file), never a failure found
//! minutes into a run, and the hot path does no parsing: rendering appends to one buffer and
//! allocates nothing else (numbers and UUIDs are formatted in place). `env(NAME)` is read at
//! load: the environment does not change during a run.
use std::fmt::Write;

use rand::Rng;

/// One compiled template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(String),
    Uuid,
    Int(i64, i64),
    /// `words(a, b)`: a uniform count of words in `a..=b`, separated by spaces.
    Words(u32, u32),
    Pick(Vec<String>),
    /// A value this user captured earlier: an index into the class's capture names.
    Capture(usize),
    /// A column of this user's row of the class's data file: an index into its columns.
    Column(usize),
}

/// The names a template may read besides its functions: what the class's requests capture
/// and the columns of its data file (none without one).
#[derive(Clone, Copy, Default)]
pub struct TemplateNames<'a> {
    pub captures: &'a [&'a str],
    pub columns: &'a [&'a str],
}

/// What one user's templates read besides random values: the values it captured so far (one
/// slot per capture name) and its row of the class's data file (empty without one).
#[derive(Clone, Copy)]
pub struct UserValues<'a> {
    pub captured: &'a [Option<String>],
    pub row: &'a [Box<str>],
}

/// Why a template does not compile; `offset` is the byte in the template where it went wrong.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
    pub hint: String,
}

/// What a capture stands for when a template is rendered once at load to check it (`0`
/// makes valid JSON both quoted and bare).
pub const SAMPLE_CAPTURE: &str = "0";

const FUNCTIONS: &str =
    "use uuid(), int(a, b), words(a, b), pick(a, b, ...), env(NAME), or the name of a capture or data column of this class";

impl Template {
    /// Compiles `source`; `names` are the captures and data columns it may read, `env` reads
    /// an environment variable.
    pub fn compile(
        source: &str,
        names: TemplateNames<'_>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = 0;
        while let Some(open) = source[rest..].find("{{").map(|i| rest + i) {
            if open > rest {
                parts.push(Part::Text(source[rest..open].to_string()));
            }
            let Some(close) = source[open + 2..].find("}}").map(|i| open + 2 + i) else {
                return Err(error(
                    open,
                    "`{{` is never closed",
                    "close the expression with `}}`, e.g. `{{uuid()}}`",
                ));
            };
            let inner = &source[open + 2..close];
            let at = open + 2 + (inner.len() - inner.trim_start().len());
            parts.push(expression(inner.trim(), at, names, env)?);
            rest = close + 2;
        }
        if rest < source.len() {
            parts.push(Part::Text(source[rest..].to_string()));
        }
        Ok(Template { parts })
    }

    /// Appends this template's text for one request of a user with `values`; `Err(index)`
    /// names a capture this user has not made yet.
    pub fn render(&self, values: UserValues<'_>, out: &mut String) -> Result<(), usize> {
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Uuid => push_uuid(super::random_uuid(), out),
                Part::Int(a, b) => push_int(rand::rng().random_range(*a..=*b), out),
                Part::Words(a, b) => push_words(rand::rng().random_range(*a..=*b), out),
                Part::Pick(choices) => {
                    out.push_str(&choices[rand::rng().random_range(0..choices.len())])
                }
                Part::Capture(i) => match values.captured.get(*i) {
                    Some(Some(value)) => out.push_str(value),
                    _ => return Err(*i),
                },
                Part::Column(i) => out.push_str(values.row.get(*i).map_or("", |v| v)),
            }
        }
        Ok(())
    }

    /// The text with fixed sample values (lowest int, first pick, [`SAMPLE_CAPTURE`], a nil
    /// UUID, columns from `row`: the data file's first row): what validation checks, e.g.
    /// that params are JSON.
    pub fn sample(&self, row: &[Box<str>]) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Uuid => push_uuid(uuid::Uuid::nil(), &mut out),
                Part::Int(a, _) => push_int(*a, &mut out),
                Part::Words(a, _) => push_words(*a, &mut out),
                Part::Pick(choices) => out.push_str(&choices[0]),
                Part::Capture(_) => out.push_str(SAMPLE_CAPTURE),
                Part::Column(i) => out.push_str(row.get(*i).map_or(SAMPLE_CAPTURE, |v| v)),
            }
        }
        out
    }

    /// The indices of the captures this template uses.
    pub fn captures(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Capture(i) => Some(*i),
            _ => None,
        })
    }

    /// Text without any expression (sent as is).
    pub fn is_plain(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }
}

/// Appends `id` in its hyphenated lower-case form without allocating.
fn push_uuid(id: uuid::Uuid, out: &mut String) {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.push_str(id.hyphenated().encode_lower(&mut text));
}

/// Appends `n` in decimal without allocating.
fn push_int(n: i64, out: &mut String) {
    let _ = write!(out, "{n}");
}

fn error(offset: usize, message: impl Into<String>, hint: impl Into<String>) -> TemplateError {
    TemplateError {
        offset,
        message: message.into(),
        hint: hint.into(),
    }
}

fn expression(
    expr: &str,
    at: usize,
    names: TemplateNames<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Part, TemplateError> {
    let Some((name, args)) = expr.split_once('(') else {
        if !is_identifier(expr) {
            return Err(error(
                at,
                format!("`{{{{{expr}}}}}` is not a template expression"),
                FUNCTIONS,
            ));
        }
        if let Some(i) = names.captures.iter().position(|c| *c == expr) {
            return Ok(Part::Capture(i));
        }
        if let Some(i) = names.columns.iter().position(|c| *c == expr) {
            return Ok(Part::Column(i));
        }
        let known = if names.columns.is_empty() {
            "this class has no data file".to_string()
        } else {
            format!("its data columns are {}", names.columns.join(", "))
        };
        return Err(error(
            at,
            format!("`{{{{{expr}}}}}` uses `{expr}`, which is neither a capture a request of this class makes nor a column of its data file ({known})"),
            format!("add `capture = {{ {expr} = \"/result/{expr}\" }}` to the request whose answer holds it, add a column `{expr}` to the class's `data` file, or fix the name"),
        ));
    };
    let name = name.trim();
    let Some(args) = args.trim_end().strip_suffix(')') else {
        return Err(error(
            at,
            format!("`{expr}` has no closing `)`"),
            "write e.g. `{{int(1, 10)}}`",
        ));
    };
    let args: Vec<&str> = if args.trim().is_empty() {
        Vec::new()
    } else {
        args.split(',').map(|a| unquote(a.trim())).collect()
    };
    match name {
        "uuid" if args.is_empty() => Ok(Part::Uuid),
        "uuid" => Err(error(at, "uuid() takes no arguments", "write `{{uuid()}}`")),
        "int" => {
            let numbers: Vec<i64> = args.iter().filter_map(|a| a.parse().ok()).collect();
            match numbers[..] {
                [a, b] if args.len() == 2 && a <= b => Ok(Part::Int(a, b)),
                _ => Err(error(
                    at,
                    format!("`{expr}` needs two whole numbers, the lowest first"),
                    "write e.g. `{{int(1, 10)}}` (both ends included)",
                )),
            }
        }
        "words" => {
            let numbers: Vec<u32> = args.iter().filter_map(|a| a.parse().ok()).collect();
            match numbers[..] {
                [a, b] if args.len() == 2 && a <= b && b <= MAX_WORDS => Ok(Part::Words(a, b)),
                _ => Err(error(
                    at,
                    format!("`{expr}` needs two counts of words, the lowest first, at most {MAX_WORDS}"),
                    "write e.g. `{{words(100, 300)}}` (a prompt of 100 to 300 words: as many tokens for a word-counting server)",
                )),
            }
        }
        "pick" if !args.is_empty() && args.iter().all(|a| !a.is_empty()) => {
            Ok(Part::Pick(args.iter().map(|a| a.to_string()).collect()))
        }
        "pick" => Err(error(
            at,
            format!("`{expr}` needs one or more non-empty choices"),
            "write e.g. `{{pick(alpha, beta, gamma)}}`",
        )),
        "env" => match args[..] {
            [var] if is_identifier(var) => env(var).map(Part::Text).ok_or_else(|| {
                error(
                    at,
                    format!("environment variable `{var}` is not set"),
                    format!("export {var}=... before running skein, or write the value itself"),
                )
            }),
            _ => Err(error(
                at,
                format!("`{expr}` needs one variable name"),
                "write e.g. `{{env(TENANT_ID)}}`",
            )),
        },
        _ => Err(error(
            at,
            format!("unknown template function `{name}`"),
            FUNCTIONS,
        )),
    }
}

/// The most words one `words(a, b)` writes: a prompt far beyond any context window is a typo.
const MAX_WORDS: u32 = 1_000_000;

/// Words a `words(a, b)` prompt is made of: plain lower-case words, no punctuation, so that
/// every word is one token for a word-counting server and a handful for a BPE tokenizer.
pub const VOCABULARY: [&str; 16] = [
    "the", "agent", "reads", "a", "long", "report", "about", "queue", "latency", "and", "writes",
    "its", "plan", "for", "every", "shard",
];

/// Appends `n` words separated by single spaces (a word-counting tokenizer counts `n`).
fn push_words(n: u32, out: &mut String) {
    let mut rng = rand::rng();
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(VOCABULARY[rng.random_range(0..VOCABULARY.len())]);
    }
}

fn unquote(arg: &str) -> &str {
    arg.strip_prefix('"')
        .and_then(|a| a.strip_suffix('"'))
        .unwrap_or(arg)
}

/// `[A-Za-z_][A-Za-z0-9_]*`: capture and environment variable names.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn compile(source: &str, captures: &[&str]) -> Result<Template, TemplateError> {
        let names = TemplateNames {
            captures,
            columns: &[],
        };
        Template::compile(source, names, &|v| {
            (v == "TENANT").then(|| "t1".to_string())
        })
    }

    fn render(t: &Template, captured: &[Option<String>]) -> String {
        let mut out = String::new();
        let values = UserValues { captured, row: &[] };
        t.render(values, &mut out).unwrap();
        out
    }

    #[test]
    fn plain_text_is_one_part_and_sent_as_is() {
        let t = compile("/api/v1/items", &[]).unwrap();
        assert!(t.is_plain());
        assert_eq!(render(&t, &[]), "/api/v1/items");
        let empty = Template::compile("", TemplateNames::default(), &no_env).unwrap();
        assert_eq!(empty.sample(&[]), "");
    }

    #[test]
    fn every_function_renders_within_its_bounds() {
        let t = compile(
            r#"{"q":"{{pick(alpha, beta, "gamma")}}","k":{{ int(1, 3) }},"id":"{{uuid()}}","t":"{{env(TENANT)}}"}"#,
            &[],
        )
        .unwrap();
        for _ in 0..50 {
            let v: serde_json::Value = serde_json::from_str(&render(&t, &[])).unwrap();
            assert!(["alpha", "beta", "gamma"].contains(&v["q"].as_str().unwrap()));
            assert!((1..=3).contains(&v["k"].as_i64().unwrap()));
            assert_eq!(v["id"].as_str().unwrap().len(), 36);
            assert_eq!(v["t"], "t1");
        }
        assert_eq!(
            t.sample(&[]),
            r#"{"q":"alpha","k":1,"id":"00000000-0000-0000-0000-000000000000","t":"t1"}"#
        );
    }

    #[test]
    fn captures_render_their_value_or_name_the_missing_one() {
        let t = compile("/items/{{item}}/{{session_id}}", &["session_id", "item"]).unwrap();
        assert_eq!(
            render(&t, &[Some("s9".into()), Some("42".into())]),
            "/items/42/s9"
        );
        let mut out = String::new();
        let values = UserValues {
            captured: &[Some("s9".into()), None],
            row: &[],
        };
        assert_eq!(t.render(values, &mut out), Err(1));
        assert_eq!(t.sample(&[]), "/items/0/0");
        assert_eq!(t.captures().collect::<Vec<_>>(), [1, 0]);
    }

    #[test]
    fn errors_point_at_the_expression_with_a_fix() {
        let cases: [(&str, usize, &str); 9] = [
            ("ab{{rand()}}", 4, "unknown template function `rand`"),
            ("{{ nope }}", 3, "uses `nope`, which is neither a capture"),
            ("x{{uuid()", 1, "never closed"),
            ("{{int(5, 1)}}", 2, "two whole numbers"),
            ("{{int(a, 1)}}", 2, "two whole numbers"),
            ("{{pick()}}", 2, "non-empty choices"),
            ("{{env(MISSING)}}", 2, "`MISSING` is not set"),
            ("{{uuid(1)}}", 2, "no arguments"),
            ("{{a b}}", 2, "not a template expression"),
        ];
        for (source, offset, message) in cases {
            let e = compile(source, &[]).unwrap_err();
            assert_eq!(e.offset, offset, "{source}");
            assert!(e.message.contains(message), "{source}: {}", e.message);
            assert!(!e.hint.is_empty());
        }
    }

    #[test]
    fn columns_render_the_users_row_and_captures_win_over_nothing() {
        let names = TemplateNames {
            captures: &["token"],
            columns: &["user", "plan"],
        };
        let t = Template::compile("/u/{{user}}?p={{plan}}&t={{token}}", names, &no_env).unwrap();
        let row: Vec<Box<str>> = vec!["ada".into(), "pro".into()];
        let mut out = String::new();
        let values = UserValues {
            captured: &[Some("k1".into())],
            row: &row,
        };
        t.render(values, &mut out).unwrap();
        assert_eq!(out, "/u/ada?p=pro&t=k1");
        assert_eq!(t.sample(&row), "/u/ada?p=pro&t=0");
        assert_eq!(t.captures().collect::<Vec<_>>(), [0]);
        let e = Template::compile("{{usr}}", names, &no_env).unwrap_err();
        assert!(
            e.message.contains("its data columns are user, plan"),
            "{}",
            e.message
        );
        assert!(e.hint.contains("add a column `usr`"), "{}", e.hint);
    }

    #[test]
    fn numbers_and_uuids_are_formatted_in_place() {
        let mut out = String::from("x");
        push_int(-42, &mut out);
        push_uuid(uuid::Uuid::nil(), &mut out);
        assert_eq!(out, "x-4200000000-0000-0000-0000-000000000000");
    }

    #[test]
    fn identifiers_are_ascii_words() {
        assert!(is_identifier("session_id") && is_identifier("_x1"));
        assert!(!is_identifier("1x") && !is_identifier("") && !is_identifier("a-b"));
    }

    #[test]
    fn words_writes_a_count_of_words_within_its_bounds() {
        let t = Template::compile("{{words(3, 7)}}", TemplateNames::default(), &|_| None).unwrap();
        for _ in 0..200 {
            let mut out = String::new();
            t.render(
                UserValues {
                    captured: &[],
                    row: &[],
                },
                &mut out,
            )
            .unwrap();
            let n = out.split_whitespace().count();
            assert!((3..=7).contains(&n), "{out}");
            assert_eq!(out.split(' ').count(), n, "single spaces: {out:?}");
        }
        assert_eq!(t.sample(&[]).split_whitespace().count(), 3);
        for bad in ["{{words(5, 2)}}", "{{words(1)}}", "{{words(1, 2000000)}}"] {
            let e = Template::compile(bad, TemplateNames::default(), &|_| None)
                .err()
                .unwrap();
            assert!(
                e.message.contains("needs two counts of words"),
                "{bad}: {}",
                e.message
            );
        }
    }
}
