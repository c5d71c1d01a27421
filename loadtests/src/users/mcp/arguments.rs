//! Arguments for a tool the scenario gives none for, drawn from the tool's `inputSchema` (JSON
//! Schema): every required property, of its type, within its bounds (integers small: from
//! their minimum to 9 above it); an `enum` or `const` picks from what the schema allows. What a load test needs is a
//! call the server accepts and does real work for, not coverage of the schema.
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Map, Value};

/// Words string arguments are made of.
const WORDS: [&str; 8] = [
    "latency", "queue", "gpu", "cache", "rollout", "policy", "reward", "trace",
];

/// Integers are drawn from their minimum to this much above it (within their maximum).
const SMALL_RANGE: i64 = 9;

/// How deep nested objects and arrays are filled (a recursive schema stops here).
const MAX_DEPTH: usize = 4;

/// A value `schema` accepts.
pub fn value_for(schema: &Value) -> Value {
    value_at(schema, 0)
}

fn value_at(schema: &Value, depth: usize) -> Value {
    let mut rng = rand::rng();
    if let Some(constant) = schema.get("const") {
        return constant.clone();
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        if let Some(choice) = choices.choose(&mut rng) {
            return choice.clone();
        }
    }
    if let Some(first) = ["anyOf", "oneOf"].iter().find_map(|k| {
        schema
            .get(*k)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
    }) {
        return value_at(first, depth);
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        // `["string", "null"]`: the first type that is not null.
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        // Small values within the bounds: an integer is often a count of work (steps,
        // results), and a load test wants calls of typical size, not the schema's extremes.
        "integer" => {
            let min = schema.get("minimum").and_then(Value::as_i64).unwrap_or(1);
            let max = schema
                .get("maximum")
                .and_then(Value::as_i64)
                .unwrap_or(i64::MAX);
            let max = max.min(min.saturating_add(SMALL_RANGE));
            json!(if min <= max {
                rng.random_range(min..=max)
            } else {
                min
            })
        }
        "number" => {
            let min = schema.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
            let max = schema
                .get("maximum")
                .and_then(Value::as_f64)
                .unwrap_or(min + 1.0);
            json!(if min < max {
                rng.random_range(min..max)
            } else {
                min
            })
        }
        "boolean" => json!(rng.random_bool(0.5)),
        "null" => Value::Null,
        "array" if depth < MAX_DEPTH => {
            let items = schema.get("items").cloned().unwrap_or(json!({}));
            let count = schema
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .min(8);
            Value::Array((0..count).map(|_| value_at(&items, depth + 1)).collect())
        }
        "array" => json!([]),
        "object" if depth < MAX_DEPTH => object_for(schema, depth),
        "object" => json!({}),
        _ => string_for(schema, &mut rng),
    }
}

/// An object with every required property (properties not required are left out).
fn object_for(schema: &Value, depth: usize) -> Value {
    let properties = schema.get("properties").and_then(Value::as_object);
    let required = schema.get("required").and_then(Value::as_array);
    let mut object = Map::new();
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        let property = properties
            .and_then(|p| p.get(name))
            .cloned()
            .unwrap_or(json!({}));
        object.insert(name.to_string(), value_at(&property, depth + 1));
    }
    Value::Object(object)
}

fn string_for(schema: &Value, rng: &mut impl Rng) -> Value {
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(1) as usize;
    let max = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    let mut text = String::new();
    while text.len() < min.max(1) {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(WORDS.choose(rng).expect("words exist"));
    }
    if let Some(max) = max {
        text.truncate(max.max(min));
    }
    json!(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_properties_get_values_of_their_type_within_bounds() {
        let schema = json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 12},
                "limit": {"type": "integer", "minimum": 1, "maximum": 20},
                "mode": {"enum": ["fast", "exact"]},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "note": {"type": ["string", "null"]},
                "optional": {"type": "integer"}
            },
            "required": ["query", "limit", "mode", "tags", "note"]
        });
        for _ in 0..200 {
            let v = value_for(&schema);
            let o = v.as_object().unwrap();
            assert!(o["query"].as_str().unwrap().len() >= 12, "{v}");
            assert!((1..=20).contains(&o["limit"].as_i64().unwrap()), "{v}");
            assert!(
                ["fast", "exact"].contains(&o["mode"].as_str().unwrap()),
                "{v}"
            );
            assert_eq!(o["tags"].as_array().unwrap().len(), 2);
            assert!(o["note"].is_string());
            assert!(!o.contains_key("optional"));
        }
    }

    #[test]
    fn odd_schemas_still_give_a_value_and_no_panic() {
        let recursive = json!({"type": "object", "properties": {"child": {"$ref": "#"}}, "required": ["child"]});
        for schema in [
            json!({}),
            json!(true),
            json!({"type": 7}),
            json!({"anyOf": []}),
            recursive,
            json!({"type": "integer", "minimum": 9, "maximum": 2}),
            json!({"type": "string", "maxLength": 0}),
        ] {
            let _ = value_for(&schema);
        }
    }
}
