//! The capacity search as one JUnit test case, `capacity search`: it passes when a capacity
//! was found (or every step held) and fails with the verdict as its message otherwise, so a
//! CI job that runs `skein capacity` shows the answer beside the SLA cases.
use super::xml_escape;
use crate::model::RunResult;

/// The test case's name.
pub const CASE_NAME: &str = "capacity search";

/// The case for a search result (`None` for other runs), and whether it failed.
pub(crate) fn case(result: &RunResult, suite: &str) -> Option<(String, bool)> {
    let search = result.capacity_search.as_ref()?;
    let verdict = xml_escape(&search.verdict());
    let head = format!("    <testcase classname=\"{suite}\" name=\"{CASE_NAME}\" time=\"0\">");
    Some(if search.found() {
        (
            format!("{head}<system-out>{verdict}</system-out></testcase>\n"),
            false,
        )
    } else {
        (
            format!("{head}<failure message=\"{verdict}\" type=\"CapacityNotFound\">{verdict}</failure></testcase>\n"),
            true,
        )
    })
}
