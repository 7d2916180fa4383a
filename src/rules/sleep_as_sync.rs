//! sleep-as-sync: a timer used to "wait for" another write to commit or a lock to
//! be released before reading or writing (seed 000 §3–4: 500 ms after compiling,
//! 800 ms before retrying). A delay is not a guarantee: under load the other write
//! is still not committed, and on a quiet day the wait is wasted. Retry back-offs
//! inside a loop are left alone.

use super::{table_name, Context, Rule};
use crate::diagnostic::{Confidence, Finding, Related, RuleMeta, Severity};
use crate::ir::{EffectKind, Function};

pub struct SleepAsSync;

static META: RuleMeta = RuleMeta {
    id: "sleep-as-sync",
    severity: Severity::Warning,
    summary: "a timer is used to wait for another write to land before touching the database",
    doc: include_str!("../../rules/sleep-as-sync.md"),
    concurrent: true,
    fixable: None,
};

impl Rule for SleepAsSync {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, function: &Function, out: &mut Vec<Finding>) {
        for (index, sleep) in function.effects.iter().enumerate() {
            if sleep.kind != EffectKind::Sleep || sleep.in_loop {
                continue;
            }
            let Some(next) = function.effects[index + 1..]
                .iter()
                .find(|e| e.is_database() && e.kind != EffectKind::Lock)
            else {
                continue;
            };
            let code = cx.text.get(sleep.span.range()).unwrap_or("the timer");
            let code: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push(Finding {
                rule: META.id,
                severity: META.severity,
                span: sleep.site,
                label: "waits a fixed time".to_string(),
                message: format!(
                    "`{code}` waits a fixed time before {} is touched at line {}, hoping another write has landed by then; a delay is no guarantee under load",
                    table_name(next),
                    cx.line_of(next.site.start)
                ),
                help: format!(
                    "Wait for the producer itself (await the promise that writes), or serialise both sides with a lock ({}), or do the work in one transaction.",
                    match cx.database_of(next.table.as_deref()) {
                        crate::schema::dialect::Dialect::Unknown
                        | crate::schema::dialect::Dialect::One(crate::schema::Database::Postgres) => {
                            "`pg_advisory_xact_lock(hashtext(key))` in a transaction".to_string()
                        }
                        other => other.row_lock(),
                    }
                ),
                related: vec![Related { span: next.site, message: "the database is touched here, assuming the wait was enough".to_string() }],
                fix: None,
                confidence: if next.kind == EffectKind::Read && sleep.completion == crate::ir::Completion::Awaited {
                    Confidence::high("the timer is awaited before a read of what another request writes")
                } else {
                    Confidence::medium("the timer is awaited before a write")
                },
            });
        }
    }
}
