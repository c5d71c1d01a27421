//! JUnit XML: one test case per SLA threshold, so CI systems show SLA failures natively. The
//! suite's properties carry the run's totals (dropped arrivals, both latencies) for CI systems
//! that display them.
use std::fmt::Write;

use crate::model::RunResult;

pub mod search;

/// Escapes the five XML special characters.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

pub fn render(result: &RunResult) -> String {
    let suite = xml_escape(&format!("skein.{}", result.metadata.scenario_name));
    let search_case = search::case(result, &suite);
    let failures = result.slas.iter().filter(|v| !v.passed).count()
        + usize::from(search_case.as_ref().is_some_and(|(_, failed)| *failed));
    let tests = result.slas.len() + usize::from(search_case.is_some());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"skein\" tests=\"{tests}\" failures=\"{failures}\" time=\"{:.3}\">",
        result.duration_secs()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{:.3}\" timestamp=\"{}\">",
        result.duration_secs(),
        result.metadata.started_at.format("%Y-%m-%dT%H:%M:%S")
    );
    let overall = result.overall();
    let mut properties = vec![
        (
            "load_model",
            result.metadata.load_model.as_str().to_string(),
        ),
        ("requests", overall.requests.to_string()),
        ("failures", overall.failures.to_string()),
        ("dropped_arrivals", result.dropped_arrivals.to_string()),
        (
            "p95_service_ms",
            format!("{:.3}", overall.latency.value_at_quantile(0.95)),
        ),
    ];
    if !overall.intended_samples.is_empty() {
        properties.push((
            "p95_intended_ms",
            format!("{:.3}", overall.intended().value_at_quantile(0.95)),
        ));
    }
    out.push_str("    <properties>\n");
    for (name, value) in properties {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            xml_escape(&value)
        );
    }
    out.push_str("    </properties>\n");
    if let Some((case, _)) = search_case {
        out.push_str(&case);
    }
    for v in &result.slas {
        let name = xml_escape(&v.describe());
        let measured = v.measured_phrase();
        let _ = write!(
            out,
            "    <testcase classname=\"{suite}\" name=\"{name}\" time=\"0\">"
        );
        if v.passed {
            let _ = writeln!(
                out,
                "<system-out>{}</system-out></testcase>",
                xml_escape(&measured)
            );
        } else {
            let _ = writeln!(
                out,
                "<failure message=\"{} breaks {}\" type=\"SlaFailed\">{} against the limit {}</failure></testcase>",
                xml_escape(&measured),
                name,
                xml_escape(&measured),
                xml_escape(&v.threshold.metric.format(v.threshold.limit))
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
