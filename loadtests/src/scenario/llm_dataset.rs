//! `dataset = "prompts.jsonl"` (and `dataset_format`) and `turns` on an LLM request: the file
//! read at load relative to the scenario file, every bad line an error naming `file:line`.
use std::path::Path;

use super::data_file::{DataFile, DataSource};
use super::error::{Locator, ScenarioError};
use super::raw_request::RawRequest;
use crate::users::llm::dataset::{Dataset, Format};
use crate::users::llm::Protocol;

/// Largest dataset read: it is held in memory.
pub const MAX_DATASET_BYTES: u64 = 256 * 1024 * 1024;

/// Most turns of one conversation.
const MAX_TURNS: i64 = 1_000;

/// The request's dataset, read (from `source`) and checked, if it names one; its file is added
/// to `read` (once per path), so a manager ships it to its workers.
pub(super) fn dataset_of(
    r: &RawRequest,
    source: DataSource<'_>,
    read: &mut Vec<DataFile>,
    at: &Locator<'_>,
) -> Result<Option<Dataset>, ScenarioError> {
    let Some(path) = &r.dataset else {
        if let Some(f) = &r.dataset_format {
            return Err(at.at(
                f.span(),
                "`dataset_format` without `dataset`",
                "add `dataset = \"prompts.jsonl\"`, or remove `dataset_format`",
            ));
        }
        return Ok(None);
    };
    let stray = [&r.prompt, &r.messages].into_iter().flatten().next();
    if let Some(key) = stray {
        return Err(at.at(
            key.span(),
            "an LLM request takes its prompts from `dataset` or from `prompt`/`messages`, not both",
            "keep `dataset` (a row per request) or the prompt",
        ));
    }
    if let Some(key) = &r.input_tokens {
        return Err(at.at(
            key.span(),
            "an LLM request takes its prompts from `dataset` or `input_tokens`, not both",
            "keep `dataset` (a row per request) or `input_tokens` (synthetic prompts)",
        ));
    }
    let written = path.get_ref();
    let format = match &r.dataset_format {
        Some(f) => at.choice(
            f,
            "dataset_format",
            &[("jsonl", Format::Jsonl), ("sharegpt", Format::ShareGpt)],
            "write `dataset_format = \"jsonl\"` (a JSON object a line) or `\"sharegpt\"` (a JSON array of conversations)",
        )?,
        None if written.ends_with(".jsonl") => Format::Jsonl,
        None if written.ends_with(".json") => Format::ShareGpt,
        None => {
            return Err(at.at(
                path.span(),
                format!("cannot tell the format of dataset `{written}` from its name"),
                "add `dataset_format = \"jsonl\"` or `\"sharegpt\"`",
            ))
        }
    };
    let fail = |message: String, hint: &str| at.at(path.span(), message, hint);
    let resolved = match Path::new(at.file).parent() {
        Some(dir) if !Path::new(written).is_absolute() => dir.join(written),
        _ => Path::new(written).to_path_buf(),
    };
    let text = match source {
        DataSource::BesideScenario => {
            read_beside(written, &resolved).map_err(|(message, hint)| fail(message, hint))?
        }
        DataSource::Shipped(files) => match files.iter().find(|f| f.path == *written) {
            Some(f) => f.text.clone(),
            None => {
                return Err(fail(
                    format!("dataset `{written}` did not come with the scenario from the manager"),
                    "run the manager and the workers with the same skein version: the manager sends the datasets it read",
                ))
            }
        },
    };
    let shown = resolved.display().to_string();
    let dataset = Dataset::parse(&shown, &text, format).map_err(|e| {
        fail(
            format!("dataset {e}"),
            "JSONL rows are {\"prompt\": \"...\", \"output_tokens\": 128} or {\"messages\": [...]}; ShareGPT is [{\"conversations\": [{\"from\": \"human\", \"value\": \"...\"}, ...]}]",
        )
    })?;
    if !read.iter().any(|f| f.path == *written) {
        read.push(DataFile {
            path: written.clone(),
            text,
        });
    }
    Ok(Some(dataset))
}

/// The dataset's text from disk at `resolved`; `Err((message, hint))`.
fn read_beside(written: &str, resolved: &Path) -> Result<String, (String, &'static str)> {
    let cannot = |e: std::io::Error| {
        (
            format!("cannot read dataset `{}`: {e}", resolved.display()),
            "give the path relative to the scenario file, e.g. `dataset = \"prompts.jsonl\"` beside it",
        )
    };
    let size = std::fs::metadata(resolved).map_err(cannot)?.len();
    if size > MAX_DATASET_BYTES {
        return Err((
            format!("dataset `{written}` is {size} bytes: at most {MAX_DATASET_BYTES} are read"),
            "keep the rows a run sends (a run rarely needs more than a few thousand)",
        ));
    }
    std::fs::read_to_string(resolved).map_err(cannot)
}

/// The request's `turns` (1 when not given); a chat API and a prompt that is one message.
pub(super) fn turns_of(
    r: &RawRequest,
    protocol: Protocol,
    at: &Locator<'_>,
) -> Result<u32, ScenarioError> {
    let Some(turns) = &r.turns else {
        return Ok(1);
    };
    let n = *turns.get_ref();
    if !(1..=MAX_TURNS).contains(&n) {
        return Err(at.at(
            turns.span(),
            format!("turns is {n}"),
            format!("give 1 to {MAX_TURNS} turns per conversation, e.g. `turns = 4`"),
        ));
    }
    if n > 1 && protocol == Protocol::OpenAiCompletions {
        return Err(at.at(
            turns.span(),
            "a conversation of several turns needs a chat API",
            "use `protocol = \"openai-chat\"` or `\"anthropic-messages\"` (completions have no messages)",
        ));
    }
    if let (true, Some(m)) = (n > 1, &r.messages) {
        return Err(at.at(
            m.span(),
            "`messages` is the whole array, so it cannot carry a conversation's history",
            "write `prompt` (each turn's user message) or `input_tokens`, or use a ShareGPT `dataset`",
        ));
    }
    Ok(n as u32)
}

#[cfg(test)]
mod tests {
    use crate::scenario::data_file::{
        check_shippable, DataFile, DataSource, MAX_SHIPPED_FILE_BYTES,
    };
    use crate::scenario::file::parse_with_data;
    use crate::scenario::Scenario;

    /// One user of one LLM request whose prompts come from `p.jsonl`.
    const LLM: &str = r#"users = 1
run_time = "1s"
user_classes = [{ name = "Chat", weight = 1, requests = [
    { name = "chat", protocol = "openai-chat", model = "m", dataset = "p.jsonl" },
] }]
"#;

    fn jsonl(text: &str) -> Vec<DataFile> {
        vec![DataFile {
            path: "p.jsonl".into(),
            text: text.into(),
        }]
    }

    /// The scenario as a worker loads it: its dataset from the files the manager sent.
    fn shipped(files: &[DataFile]) -> Result<Scenario, String> {
        parse_with_data("s", "s.toml", LLM, DataSource::Shipped(files)).map_err(|e| e.to_string())
    }

    #[test]
    fn a_shipped_dataset_is_read_from_the_scenario_and_its_contents_are_in_the_hash() {
        let files = jsonl("{\"prompt\": \"hi\"}\n");
        let scenario = shipped(&files).unwrap();
        assert_eq!(scenario.data_files, files);
        let other = shipped(&jsonl("{\"prompt\": \"bye\"}\n")).unwrap();
        assert_ne!(other.hash(), scenario.hash());
        let e = shipped(&[]).unwrap_err();
        assert!(e.contains("did not come with the scenario"), "{e}");
    }

    #[test]
    fn a_file_over_the_shipping_limit_is_named_with_its_size() {
        let at_limit = jsonl(&"x".repeat(MAX_SHIPPED_FILE_BYTES));
        assert_eq!(check_shippable(&at_limit), Ok(()));
        let over = jsonl(&"x".repeat(MAX_SHIPPED_FILE_BYTES + 512 * 1024));
        let e = check_shippable(&over).unwrap_err();
        assert!(
            e.contains("`p.jsonl` is 16.5 MiB") && e.contains("at most 16 MiB"),
            "{e}"
        );
    }
}
