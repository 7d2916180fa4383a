//! `racelint rules`: every rule with its default severity and summary.

use super::{Format, EXIT_CLEAN};
use crate::rules::RULES;
use clap::Args;

#[derive(Args, Debug)]
pub struct RulesArgs {
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: RulesArgs) -> i32 {
    match args.format {
        Format::Human => {
            let width = RULES.iter().map(|r| r.meta().id.len()).max().unwrap_or(0);
            for rule in RULES {
                let meta = rule.meta();
                println!(
                    "{:width$}  {:7}  {}",
                    meta.id,
                    meta.severity.as_str(),
                    meta.summary
                );
            }
        }
        Format::Json => {
            let rules: Vec<serde_json::Value> = RULES
                .iter()
                .map(|r| {
                    let m = r.meta();
                    serde_json::json!({ "id": m.id, "severity": m.severity.as_str(), "summary": m.summary })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rules).unwrap_or_default()
            );
        }
    }
    EXIT_CLEAN
}
