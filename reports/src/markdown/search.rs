//! The capacity search in `summary.md`, and the one-line headline every output leads with
//! (the report's banner, the summary's first line, `skein report`'s output): a search
//! deliberately overloads the system, so its answer is the load found, not whether the run
//! as a whole kept its SLAs.
use std::fmt::Write;

use super::cell;
use crate::search::{CapacitySearch, SearchOutcome, SearchPhase, SearchStep};

/// `CAPACITY FOUND: max sustainable 650 arrivals/s`, or `CAPACITY NOT FOUND:` and why.
pub fn headline(search: &CapacitySearch) -> String {
    let held = search
        .max_sustainable
        .map(|i| search.load(&search.steps[i]));
    let broke = search.first_break.map(|i| search.load(&search.steps[i]));
    let bounds = match (&held, &broke) {
        (Some(h), Some(b)) => format!("{h} held, {b} broke"),
        (Some(h), None) => format!("{h} held, nothing broke yet"),
        (None, Some(b)) => format!("{b} broke, nothing held"),
        (None, None) => "no step completed".to_string(),
    };
    match (search.outcome, held) {
        (SearchOutcome::Found, Some(h)) => format!("CAPACITY FOUND: max sustainable {h}"),
        (SearchOutcome::MaxHeld, Some(h)) => {
            format!("CAPACITY FOUND: at least {h} (every step held up to the maximum searched)")
        }
        (SearchOutcome::LowestBroke, _) => {
            format!("CAPACITY NOT FOUND: even the lowest load broke an SLA ({bounds})")
        }
        (SearchOutcome::BudgetExhausted, _) => {
            format!("CAPACITY NOT FOUND: the budget ran out ({bounds})")
        }
        (SearchOutcome::Interrupted, _) => format!("CAPACITY NOT FOUND: interrupted ({bounds})"),
        (_, None) => format!("CAPACITY NOT FOUND: {bounds}"),
    }
}

/// How a phase is named in tables: what the step was for.
pub(crate) fn phase_name(phase: SearchPhase) -> &'static str {
    match phase {
        SearchPhase::Climb => "climb",
        SearchPhase::Bisect => "bisection",
        SearchPhase::Confirm => "confirmation",
    }
}

/// `held`, or `broken: p95_ms 236.0 ms > 200.0 ms`, then what the step is for the answer
/// (`max sustainable`, `first break`, `knee`).
pub(crate) fn step_result(search: &CapacitySearch, index: usize, step: &SearchStep) -> String {
    let mut text = if step.held {
        "held".to_string()
    } else if step.broken_by.is_empty() {
        "broken".to_string()
    } else {
        format!("broken: {}", step.broken_by.join(", "))
    };
    if let Some(g) = step.goodput {
        let _ = write!(
            text,
            " · goodput {:.1} % ({:.2}/s)",
            g.ratio * 100.0,
            g.per_s
        );
    }
    for (role, at) in [
        ("max sustainable", search.max_sustainable),
        ("first break", search.first_break),
        ("knee", search.knee),
    ] {
        if at == Some(index) {
            let _ = write!(text, " · {role}");
        }
    }
    text
}

/// A step's req/s, p50, p95, p99 (ms), error and dropped rates, as both tables show them.
pub(crate) fn figures(s: &SearchStep) -> [String; 6] {
    let percent = |rate: f64| format!("{:.2} %", rate * 100.0);
    [
        format!("{:.1}", s.rps),
        format!("{:.1}", s.p50_ms),
        format!("{:.1}", s.p95_ms),
        format!("{:.1}", s.p99_ms),
        percent(s.error_rate),
        percent(s.dropped_rate),
    ]
}

/// `## Capacity search`: the verdict, the knee and every step in the order run.
pub fn section(search: &CapacitySearch) -> String {
    let mut out = format!("## Capacity search\n\n**{}**\n\n", cell(&search.verdict()));
    match search.knee_text() {
        Some(knee) => {
            let _ = writeln!(out, "{}\n", cell(&knee));
        }
        None => {
            out.push_str("No knee: latency grew no faster than load over the loads searched.\n\n")
        }
    }
    let _ = writeln!(
        out,
        "| Step | Phase | Offered | Requests | Req/s | p50 ms | p95 ms | p99 ms | Errors | Dropped | Result |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for (i, s) in search.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            i + 1,
            phase_name(s.phase),
            search.load(s),
            s.requests,
            figures(s).join(" | "),
            cell(&step_result(search, i, s))
        );
    }
    out.push_str(
        "\nEach step is judged alone on its window; the figures below cover all steps together, overloaded ones included.\n\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::synthetic_capacity_search;

    #[test]
    fn the_headline_names_the_load_found_or_why_not() {
        let mut search = synthetic_capacity_search();
        assert_eq!(
            headline(&search),
            "CAPACITY FOUND: max sustainable 650 arrivals/s"
        );
        search.outcome = SearchOutcome::BudgetExhausted;
        assert_eq!(
            headline(&search),
            "CAPACITY NOT FOUND: the budget ran out (650 arrivals/s held, 675 arrivals/s broke)"
        );
        search.outcome = SearchOutcome::LowestBroke;
        search.max_sustainable = None;
        search.first_break = Some(0);
        assert!(headline(&search).starts_with("CAPACITY NOT FOUND: even the lowest"));
    }

    #[test]
    fn a_step_says_what_it_is_for_the_answer() {
        let search = synthetic_capacity_search();
        let result = |i: usize| step_result(&search, i, &search.steps[i]);
        assert_eq!(result(4), "held · knee");
        assert_eq!(
            result(7),
            "broken: p95_ms 215.0 ms > 200.0 ms · first break"
        );
        assert_eq!(result(8), "held · max sustainable");
    }
}
