//! Templates of a scenario file compiled with their errors located at `file:line:col`, and
//! checked to render JSON where JSON is sent.
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use crate::users::template::{Template, TemplateError, TemplateNames};

/// `source` compiled, its errors at their place in the file.
pub(super) fn compile(
    source: &Spanned<String>,
    names: TemplateNames<'_>,
    at: &Locator<'_>,
) -> Result<Template, ScenarioError> {
    let env = |var: &str| std::env::var(var).ok();
    Template::compile(source.get_ref(), names, &env).map_err(|e| located(at, source, e))
}

/// `template` if its sample rendering is JSON (what users will send has the same shape);
/// data columns take their values from `sample_row`, the data file's first row.
pub(super) fn json(
    template: Template,
    source: &Spanned<String>,
    sample_row: &[Box<str>],
    at: &Locator<'_>,
) -> Result<Template, ScenarioError> {
    let sample = template.sample(sample_row);
    match serde_json::from_str::<serde_json::Value>(&sample) {
        Ok(_) => Ok(template),
        Err(e) => Err(located(
            at,
            source,
            TemplateError {
                offset: 0,
                message: format!("not JSON once templated ({e}); sample: {sample}"),
                hint: "quote text values, e.g. `\"query\": \"{{pick(a, b)}}\"`; numbers stay bare"
                    .to_string(),
            },
        )),
    }
}

/// A template error at its place in the file: exact when the TOML string is written without
/// escapes (quotes around the text as is), else at the string's start.
pub(super) fn located(
    at: &Locator<'_>,
    source: &Spanned<String>,
    e: TemplateError,
) -> ScenarioError {
    let span = source.span();
    let written = at.text.get(span.clone()).unwrap_or("");
    let quote = match written.len().checked_sub(source.get_ref().len()) {
        Some(2) => 1,
        Some(6) => 3,
        _ => return at.at(span, e.message, e.hint),
    };
    let start = span.start + quote + e.offset;
    at.at(start..start, e.message, e.hint)
}
