//! The server's tokenizer, chosen so that a client can count tokens exactly without a model's
//! vocabulary: an input token is one whitespace-separated word of the prompt text, and output
//! token `i` (from 1) is the word `tok<i>` followed by one space. A client that splits the
//! answer on whitespace therefore counts exactly the tokens the server reports in `usage`.
use serde_json::Value;

/// Input tokens in `text`: its whitespace-separated words.
pub fn count_words(text: &str) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}

/// Words in a message `content`: a string, or an array of parts whose `{"type":"text"}`
/// parts' `text` count (other parts, e.g. images, count nothing); `null` counts nothing.
/// `None` when the content is none of these.
pub fn content_words(content: &Value) -> Option<u32> {
    match content {
        Value::Null => Some(0),
        Value::String(s) => Some(count_words(s)),
        Value::Array(parts) => parts.iter().try_fold(0u32, |sum, part| {
            let part = part.as_object()?;
            let words = match part.get("type").and_then(Value::as_str) {
                Some("text") => count_words(part.get("text")?.as_str()?),
                Some(_) => 0,
                None => return None,
            };
            Some(sum.saturating_add(words))
        }),
        _ => None,
    }
}

/// The text of `count` output tokens starting with token number `first` (from 1).
pub fn output_text(first: u32, count: u32) -> String {
    let mut text = String::with_capacity(count as usize * 8);
    for i in first..first + count {
        text.push_str("tok");
        text.push_str(&i.to_string());
        text.push(' ');
    }
    text
}

/// Splits `tokens` output tokens into chunk sizes, each drawn from `per_chunk` (at least 1);
/// the last chunk holds what is left.
pub fn chunk_sizes(
    tokens: u32,
    per_chunk: crate::config::ChunkCount,
    rng: &mut impl rand::Rng,
) -> Vec<u32> {
    let mut sizes = Vec::new();
    let mut left = tokens;
    while left > 0 {
        let size = per_chunk.draw(rng).clamp(1, left);
        sizes.push(size);
        left -= size;
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChunkCount;
    use serde_json::json;

    #[test]
    fn words_are_whitespace_separated() {
        assert_eq!(count_words("  Hello,  world!\n\tagain "), 3);
        assert_eq!(count_words(""), 0);
        assert_eq!(content_words(&json!("a b c")), Some(3));
        let parts = json!([{"type": "text", "text": "a b"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "c"}]);
        assert_eq!(content_words(&parts), Some(3));
        assert_eq!(content_words(&json!(null)), Some(0));
        assert_eq!(content_words(&json!(5)), None);
        assert_eq!(content_words(&json!([{"text": "no type"}])), None);
    }

    #[test]
    fn output_tokens_count_back_exactly() {
        let text = output_text(1, 5);
        assert_eq!(text, "tok1 tok2 tok3 tok4 tok5 ");
        assert_eq!(count_words(&text), 5);
        let joined = format!("{}{}", output_text(1, 3), output_text(4, 2));
        assert_eq!(joined, text, "chunks concatenate into the answer");
    }

    #[test]
    fn chunks_cover_every_token() {
        let mut rng = rand::rng();
        assert_eq!(
            chunk_sizes(10, ChunkCount { base: 4, spread: 0 }, &mut rng),
            [4, 4, 2]
        );
        for _ in 0..50 {
            let sizes = chunk_sizes(97, ChunkCount { base: 2, spread: 5 }, &mut rng);
            assert_eq!(sizes.iter().sum::<u32>(), 97);
            assert!(sizes.iter().all(|s| (1..=7).contains(s)));
        }
        assert!(chunk_sizes(0, ChunkCount { base: 1, spread: 0 }, &mut rng).is_empty());
    }
}
