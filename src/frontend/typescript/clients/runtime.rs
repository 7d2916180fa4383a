//! The JavaScript runtime's own ways of waiting and serializing: timers used as a
//! wait (`await new Promise((r) => setTimeout(r, 500))`, `await sleep(500)`) and
//! in-process locks (a module-level `Map` of promises, `async-mutex`'s `Mutex`).
//! Neither reaches the database, and neither holds across processes. Also the
//! calls that leave the process for another service (`fetch`, axios, Stripe, a
//! mailer, a queue), which no database transaction can take back.

use crate::frontend::typescript::syntax::FieldExt;
use crate::frontend::typescript::syntax::{named_children, text, Chain};
use std::collections::HashSet;
use tree_sitter::Node;

/// Functions whose awaited call is a pause.
const SLEEPS: &[&str] = &[
    "setTimeout",
    "sleep",
    "delay",
    "wait",
    "pause",
    "Bun.sleep",
    "timers.setTimeout",
];

/// Methods that pause when called with one duration on a helpers object.
const MEMBER_SLEEPS: &[&str] = &["sleep", "delay"];

/// Constructors of in-process locks.
const LOCK_TYPES: &[&str] = &["Mutex", "Semaphore", "AsyncLock", "Lock", "ReadWriteLock"];

/// Methods that take an in-process lock (or, on a promise map, queue behind one).
const LOCK_METHODS: &[&str] = &[
    "set",
    "acquire",
    "runExclusive",
    "lock",
    "withLock",
    "waitForUnlock",
];

/// HTTP clients called as a function or through a method (`fetch(url)`, `axios.post(…)`).
const HTTP_CLIENTS: &[&str] = &[
    "fetch",
    "axios",
    "got",
    "ky",
    "ofetch",
    "$fetch",
    "superagent",
];

/// SDK objects of other services, by the name code gives them (`stripe.refunds.create`).
const SERVICE_SDKS: &[&str] = &[
    "stripe",
    "resend",
    "sgMail",
    "sendgrid",
    "postmark",
    "twilio",
    "mailgun",
    "paypal",
    "lemonsqueezy",
    "polar",
    "sqs",
    "sns",
    "pubsub",
    "kafka",
    "producer",
];

/// The chain starts at another service's SDK object (`stripe.subscriptions.update`,
/// `this.stripe.customers.create`): whatever its methods are called, it writes
/// no table of the database.
pub fn service_sdk_root(chain: &Chain, src: &str) -> bool {
    let root = text(chain.root, src);
    let root_name = root.rsplit('.').next().unwrap_or(root);
    SERVICE_SDKS
        .iter()
        .any(|s| root_name.eq_ignore_ascii_case(s))
}

/// Methods that send something away on any receiver.
const SENDING_METHODS: &[&str] = &["sendMail", "sendEmail", "sendToQueue", "publish"];

/// The node to underline, when the awaited chain calls another service.
pub fn external_site<'t>(chain: &Chain<'t>, src: &str) -> Option<Node<'t>> {
    let call = chain.segments.last().filter(|s| s.args.is_some())?;
    let root = text(chain.root, src);
    let root_name = root.rsplit('.').next().unwrap_or(root);
    let http = HTTP_CLIENTS.contains(&root_name) && chain.segments.len() <= 2;
    // `stripe.refunds.create(…)`, `this.stripe.refunds.create(…)`.
    let receivers = root.split('.').chain(
        chain.segments[..chain.segments.len() - 1]
            .iter()
            .map(|s| s.name),
    );
    let sdk = chain.segments.len() >= 2
        && receivers
            .into_iter()
            .any(|name| SERVICE_SDKS.iter().any(|s| name.eq_ignore_ascii_case(s)));
    let sending = chain.segments.len() == 1 && SENDING_METHODS.contains(&call.name);
    let queued = call.name == "add"
        && chain.segments.len() == 1
        && root_name.to_ascii_lowercase().ends_with("queue");
    (http || sdk || sending || queued).then_some(call.name_node.unwrap_or(chain.root))
}

/// The callee node, when the chain is a call to a timer used as a wait.
pub fn sleep_site<'t>(chain: &Chain<'t>, src: &str) -> Option<Node<'t>> {
    let callee = match chain.segments.as_slice() {
        [only] if only.name.is_empty() => text(chain.root, src).to_string(),
        [member] => format!("{}.{}", text(chain.root, src), member.name),
        _ => return None,
    };
    let call = chain.segments.last()?;
    // `Utils.sleep(500)`, `helpers.delay(ms)`: a library's sleep on an object of
    // helpers. `this.sleep(ms)` is the class's own method, linked in by its body.
    let member_sleep = chain.segments.len() == 1
        && !call.name.is_empty()
        && MEMBER_SLEEPS.contains(&call.name)
        && !text(chain.root, src).starts_with("this")
        && call
            .args
            .is_some_and(|a| super::super::syntax::arguments(a).len() == 1);
    if !SLEEPS.contains(&callee.as_str()) && !member_sleep {
        return None;
    }
    // `setTimeout(() => work(), 0)` schedules work; it does not wait for anything.
    let first_arg = call.arg(0)?;
    if super::super::syntax::is_function(first_arg) {
        return None;
    }
    Some(call.name_node.unwrap_or(chain.root))
}

/// Names of module-level in-process locks: `const queues = new Map<string,
/// Promise<void>>()`, `const mutex = new Mutex()`.
pub fn process_locks(program: Node, src: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    for statement in named_children(program) {
        let declaration = if statement.kind() == "export_statement" {
            statement.field("declaration").unwrap_or(statement)
        } else {
            statement
        };
        if !matches!(
            declaration.kind(),
            "lexical_declaration" | "variable_declaration"
        ) {
            continue;
        }
        for declarator in named_children(declaration).filter(|d| d.kind() == "variable_declarator")
        {
            let (Some(name), Some(value)) = (declarator.field("name"), declarator.field("value"))
            else {
                continue;
            };
            if value.kind() != "new_expression" {
                continue;
            }
            let constructor = value.field("constructor").map_or("", |c| text(c, src));
            let declared = text(declarator, src);
            let promise_map = constructor == "Map" && declared.contains("Promise");
            if promise_map || LOCK_TYPES.contains(&constructor) {
                names.insert(text(name, src).to_string());
            }
        }
    }
    names
}

/// The method node, when the chain takes one of the file's in-process locks.
pub fn process_lock_site<'t>(
    chain: &Chain<'t>,
    src: &str,
    locks: &HashSet<String>,
) -> Option<Node<'t>> {
    let [method] = chain.segments.as_slice() else {
        return None;
    };
    (method.is_call()
        && LOCK_METHODS.contains(&method.name)
        && locks.contains(text(chain.root, src)))
    .then_some(method.name_node?)
}
