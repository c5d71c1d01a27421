//! `skein scenarios`: list the shipped scenarios, or check a scenario file.
use crate::exit::{Failure, Outcome};
use crate::scenario::{self, format_duration, SHIPPED};

#[derive(Debug, clap::Args)]
pub struct ScenariosArgs {
    /// Validate this scenario (name or path) and print what it resolves to, instead of listing.
    #[arg(long)]
    pub check: Option<String>,
}

pub fn execute(args: ScenariosArgs) -> anyhow::Result<Outcome> {
    if let Some(name) = args.check {
        let s = scenario::load(&name).map_err(|e| Failure::Usage(e.to_string()))?;
        println!(
            "{}",
            serde_json::to_string_pretty(&s.settings_json()).unwrap_or_default()
        );
        return Ok(Outcome::Passed);
    }
    println!(
        "{:<14} {:>9} {:>9}  {:<40} description",
        "name", "load", "run time", "user classes (weight)"
    );
    for (name, _) in SHIPPED {
        let s = scenario::load(name).map_err(|e| Failure::Usage(e.to_string()))?;
        let classes = s
            .classes
            .iter()
            .map(|c| format!("{} ({})", c.class.name(), c.weight))
            .collect::<Vec<_>>()
            .join(", ");
        let load = match s.load_model() {
            reports::LoadModel::Closed => format!("{}u", s.peak_users()),
            reports::LoadModel::Open => format!("{}/s", s.peak_rate()),
        };
        let users = if s.staged { format!("≤{load}") } else { load };
        println!(
            "{:<14} {:>9} {:>9}  {:<40} {}",
            name,
            users,
            format_duration(s.run_time()),
            classes,
            s.description
        );
    }
    Ok(Outcome::Passed)
}
