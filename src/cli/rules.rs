//! `racelint rules`: every rule with its default severity, whether its findings
//! carry a machine fix (and how safe), and its summary, the suppression checks
//! included.

use super::{Format, EXIT_CLEAN};
use crate::lint;
use clap::Args;

#[derive(Args, Debug)]
pub struct RulesArgs {
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: RulesArgs) -> i32 {
    let all = lint::all_rule_meta();
    match args.format {
        Format::Human => {
            let width = all.iter().map(|m| m.id.len()).max().unwrap_or(0);
            for meta in &all {
                println!(
                    "{:width$}  {:7}  {:4}  {}",
                    meta.id,
                    meta.severity.as_str(),
                    fixable(meta),
                    meta.summary
                );
            }
        }
        Format::Json => {
            let rules: Vec<serde_json::Value> = all
                .iter()
                .map(|m| {
                    serde_json::json!({ "id": m.id, "severity": m.severity.as_str(), "summary": m.summary, "fixable": m.fixable.map(applicability) })
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

/// The `fix` column: the applicability of the rule's machine fix, `-` for none.
fn fixable(meta: &crate::diagnostic::RuleMeta) -> &'static str {
    meta.fixable.map_or("-", applicability)
}

fn applicability(a: crate::diagnostic::Applicability) -> &'static str {
    match a {
        crate::diagnostic::Applicability::Safe => "safe",
        crate::diagnostic::Applicability::Unsafe => "unsafe",
        crate::diagnostic::Applicability::DisplayOnly => "display-only",
    }
}
