//! JSON-RPC 2.0 on the wire: request bodies built by appending, and what an answer says, read
//! without building the whole document.
//!
//! Every request's answer is judged (its `error.code` against the tolerated codes), but most
//! callers never look at the `result`, and none at `id` or `jsonrpc`. Parsing the answer as a
//! `serde_json::Value` allocated a map, its keys and every string for each of them; here the
//! top-level object is walked once, members other than `result` and `error` are skipped, the
//! `result` is read as the caller's type (a `Value` when it is used, [`IgnoredAny`] when not),
//! and of the `error` only `code` and `message` are kept, the message borrowed from the body.
//!
//! The judgement is exactly the one made on a `Value` before: an `error` member of any kind
//! makes the answer an error (its `code` when that is an integer, else 0; its `message` when
//! that is a string, else empty); otherwise a `result` member, even `null`, is the result; an
//! answer that is JSON but no object has neither.
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

pub use serde::de::IgnoredAny as Unread;

/// A JSON-RPC error as the judgement uses it.
#[derive(Debug, PartialEq, Eq)]
pub struct RpcError<'a> {
    pub code: i64,
    pub message: Cow<'a, str>,
}

impl RpcError<'_> {
    /// The error of an answer already parsed as a `Value` (a streamed event, a captured
    /// answer), judged as [`read`] judges one.
    pub fn in_value(answer: &Value) -> Option<RpcError<'_>> {
        answer.get("error").map(|error| RpcError {
            code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: Cow::Borrowed(error.get("message").and_then(Value::as_str).unwrap_or("")),
        })
    }

    pub fn into_owned(self) -> RpcError<'static> {
        RpcError {
            code: self.code,
            message: Cow::Owned(self.message.into_owned()),
        }
    }
}

/// The failure text every output groups these errors by.
impl fmt::Display for RpcError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JSON-RPC error {}: {}", self.code, self.message)
    }
}

/// The members of an answer that decide it.
#[derive(Debug, PartialEq)]
pub enum Answer<'a, R> {
    Error(RpcError<'a>),
    Result(R),
    /// Valid JSON with neither an `error` nor a `result` member.
    Neither,
}

/// Reads `body` as a JSON-RPC answer.
pub fn read<R: DeserializeOwned>(body: &[u8]) -> Result<Answer<'_, R>, serde_json::Error> {
    let envelope: Envelope<'_, R> = serde_json::from_slice(body)?;
    Ok(match (envelope.error, envelope.result) {
        (Some(error), _) => Answer::Error(error),
        (None, Some(result)) => Answer::Result(result),
        (None, None) => Answer::Neither,
    })
}

struct Envelope<'a, R> {
    result: Option<R>,
    error: Option<RpcError<'a>>,
}

/// The rest of an array, consumed.
fn skip_rest_of_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A member name, compared without allocating.
enum Member {
    Result,
    Error,
    Code,
    Message,
    Other,
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MemberVisitor;
        impl Visitor<'_> for MemberVisitor {
            type Value = Member;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Member, E> {
                Ok(match name {
                    "result" => Member::Result,
                    "error" => Member::Error,
                    "code" => Member::Code,
                    "message" => Member::Message,
                    _ => Member::Other,
                })
            }
        }
        deserializer.deserialize_identifier(MemberVisitor)
    }
}

/// Defines a visitor's answer to numbers, booleans, `null` and arrays: `$value`, after
/// consuming an array's elements.
macro_rules! scalars_and_arrays_are {
    ($value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            skip_rest_of_seq(seq)?;
            Ok($value)
        }
    };
}

impl<'de: 'a, 'a, R: DeserializeOwned> Deserialize<'de> for Envelope<'a, R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvelopeVisitor<'a, R>(PhantomData<(&'a (), R)>);
        impl<'de: 'a, 'a, R: DeserializeOwned> Visitor<'de> for EnvelopeVisitor<'a, R> {
            type Value = Envelope<'a, R>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON-RPC answer")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut envelope = Envelope {
                    result: None,
                    error: None,
                };
                // A repeated member keeps its last value, as a `serde_json::Map` does.
                while let Some(member) = map.next_key::<Member>()? {
                    match member {
                        Member::Result => envelope.result = Some(map.next_value()?),
                        Member::Error => envelope.error = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(envelope)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Envelope {
                    result: None,
                    error: None,
                })
            }
            scalars_and_arrays_are!(Envelope {
                result: None,
                error: None,
            });
        }
        deserializer.deserialize_any(EnvelopeVisitor(PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RpcError<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ErrorVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ErrorVisitor<'a> {
            type Value = RpcError<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON-RPC error")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut error = RpcError {
                    code: 0,
                    message: Cow::Borrowed(""),
                };
                while let Some(member) = map.next_key::<Member>()? {
                    match member {
                        // A number costs no allocation as a `Value`; other kinds are rare.
                        Member::Code => {
                            error.code = map.next_value::<Value>()?.as_i64().unwrap_or(0)
                        }
                        Member::Message => {
                            error.message = match map.next_value::<Message<'a>>()? {
                                Message::Text(text) => text,
                                Message::Other(_) => Cow::Borrowed(""),
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(error)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(RpcError {
                    code: 0,
                    message: Cow::Borrowed(""),
                })
            }
            scalars_and_arrays_are!(RpcError {
                code: 0,
                message: Cow::Borrowed(""),
            });
        }
        deserializer.deserialize_any(ErrorVisitor(PhantomData))
    }
}

/// `message`: a string (borrowed from the body unless it has escapes), else anything.
#[derive(Deserialize)]
#[serde(untagged)]
enum Message<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Other(IgnoredAny),
}

/// A JSON-RPC request body with pre-serialized `params` (built by appending: this runs for
/// every request, and `format!` costs several times more).
pub fn rpc_body(method: &str, params: &str) -> String {
    rpc_body_of(method, &[params])
}

/// A JSON-RPC body whose `params` is `{"job_id":"<job_id>"}`, in one allocation.
pub fn job_query_body(method: &str, job_id: &str) -> String {
    rpc_body_of(method, &[r#"{"job_id":""#, job_id, r#""}"#])
}

/// A JSON-RPC body whose `params` is the concatenation of `params`.
fn rpc_body_of(method: &str, params: &[&str]) -> String {
    const HEAD: &str = r#"{"jsonrpc":"2.0","id":1,"method":""#;
    const PARAMS: &str = r#"","params":"#;
    let length = HEAD.len()
        + method.len()
        + PARAMS.len()
        + params.iter().map(|p| p.len()).sum::<usize>()
        + 1;
    let mut body = String::with_capacity(length);
    body.push_str(HEAD);
    body.push_str(method);
    body.push_str(PARAMS);
    params.iter().for_each(|p| body.push_str(p));
    body.push('}');
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The judgement as it was made on a whole `Value`: the reference.
    fn judged_on_a_value(body: &[u8]) -> Result<Answer<'static, Value>, String> {
        let mut answer: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if let Some(error) = answer.get("error") {
            let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
            let message = error.get("message").and_then(Value::as_str).unwrap_or("");
            return Ok(Answer::Error(RpcError {
                code,
                message: Cow::Owned(message.to_string()),
            }));
        }
        Ok(match answer.get_mut("result").map(Value::take) {
            Some(result) => Answer::Result(result),
            None => Answer::Neither,
        })
    }

    const ANSWERS: &[&str] = &[
        r#"{"jsonrpc":"2.0","id":1,"result":{"job_id":"j-1","status":"queued"}}"#,
        r#"{"error":{"code":-32001,"message":"not found: no training job `x`"},"id":1,"jsonrpc":"2.0"}"#,
        r#"{"result":null}"#,
        r#"{"result":[1,{"a":"b"}],"error":null}"#,
        r#"{"error":"boom","result":1}"#,
        r#"{"error":{"code":1.5,"message":7}}"#,
        r#"{"error":{"code":18446744073709551615,"message":"big"}}"#,
        r#"{"error":{"code":"-32000","message":["x"],"data":{"deep":[{"x":1}]}}}"#,
        r#"{"error":{"message":"esc\"aped \u00e9","code":-1}}"#,
        r#"{"res\u0075lt":2}"#,
        r#"{"result":1,"result":2}"#,
        r#"{"id":1}"#,
        r#"[{"result":1}]"#,
        r#""text""#,
        "42",
        "null",
        " { \"result\" : true } ",
    ];

    #[test]
    fn every_answer_is_judged_as_on_a_whole_value() {
        for body in ANSWERS {
            let lean = read::<Value>(body.as_bytes()).map_err(|e| e.to_string());
            assert_eq!(lean, judged_on_a_value(body.as_bytes()), "{body}");
        }
    }

    #[test]
    fn an_unread_result_judges_the_same() {
        for body in ANSWERS {
            let unread = read::<Unread>(body.as_bytes()).unwrap();
            let whole = read::<Value>(body.as_bytes()).unwrap();
            match (&unread, &whole) {
                (Answer::Error(a), Answer::Error(b)) => assert_eq!(a, b, "{body}"),
                (Answer::Result(_), Answer::Result(_)) | (Answer::Neither, Answer::Neither) => {}
                _ => panic!("{body}: {unread:?} vs {whole:?}"),
            }
        }
    }

    #[test]
    fn malformed_json_is_an_error_with_serde_json_s_message() {
        for body in ["", "{", r#"{"result":}"#, r#"{"result":1} x"#] {
            let lean = read::<Unread>(body.as_bytes()).unwrap_err().to_string();
            let whole = serde_json::from_slice::<Value>(body.as_bytes())
                .unwrap_err()
                .to_string();
            assert_eq!(lean, whole, "{body:?}");
        }
    }

    #[test]
    fn a_plain_message_is_borrowed_from_the_body() {
        let body = br#"{"error":{"code":-1,"message":"plain"}}"#;
        match read::<Unread>(body).unwrap() {
            Answer::Error(e) => assert!(matches!(e.message, Cow::Borrowed("plain"))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bodies_are_the_json_rpc_requests_they_say() {
        assert_eq!(
            rpc_body("training.cancel", r#"{"job_id":"j"}"#),
            r#"{"jsonrpc":"2.0","id":1,"method":"training.cancel","params":{"job_id":"j"}}"#
        );
        assert_eq!(
            job_query_body("training.get_status", "j-1"),
            r#"{"jsonrpc":"2.0","id":1,"method":"training.get_status","params":{"job_id":"j-1"}}"#
        );
    }
}
