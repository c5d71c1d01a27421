//! Scenario errors: what is wrong, where (`file:line:col`), and what to write instead.
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{0}")]
    At(Located),
    #[error("no scenario named `{name}`: the shipped ones are {shipped}; or give a path to a .toml file")]
    Unknown { name: String, shipped: String },
    #[error("cannot read scenario file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Override(String),
}

/// An error at a place in a scenario file.
#[derive(Debug)]
pub struct Located {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Builds located errors for one file.
pub struct Locator<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Locator<'_> {
    pub fn at(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = line_col(self.text, span.start);
        ScenarioError::At(Located {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
            hint: hint.into(),
        })
    }
}

impl Locator<'_> {
    /// One of a few keywords, or an error naming the unknown one.
    pub fn choice<T: Copy>(
        &self,
        value: &toml::Spanned<String>,
        what: &str,
        options: &[(&str, T)],
        hint: &str,
    ) -> Result<T, ScenarioError> {
        let given = value.get_ref().as_str();
        options
            .iter()
            .find(|(name, _)| *name == given)
            .map(|(_, v)| *v)
            .ok_or_else(|| self.at(value.span(), format!("unknown {what} `{given}`"), hint))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(super::line_col(text, 0), (1, 1));
        assert_eq!(super::line_col(text, 6), (2, 1));
        assert_eq!(super::line_col(text, 11), (2, 6));
    }
}
