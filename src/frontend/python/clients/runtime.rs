//! The Python runtime's timers, tasks and in-process locks: `time.sleep`,
//! `asyncio.sleep`, `asyncio.create_task`, and `threading.Lock`/`asyncio.Lock`
//! (or `RLock`, `Semaphore`, a `defaultdict` of them) taken with `with`/`async
//! with` or `acquire()`. None reaches the database; rules weigh them against the
//! database work around them.

use crate::frontend::python::syntax::{last_name, Chain};
use crate::schema::py::{descendants, text};
use std::collections::HashSet;
use tree_sitter::Node;

const LOCK_TYPES: &[&str] = &[
    "Lock",
    "RLock",
    "Semaphore",
    "BoundedSemaphore",
    "Condition",
];

/// The site of a sleep call (`time.sleep(1)`, `await asyncio.sleep(0.5)`, `sleep(2)`).
pub fn sleep_site<'t>(chain: &Chain<'t>, src: &str) -> Option<Node<'t>> {
    let last = chain.last()?;
    if !last.is_call() {
        return None;
    }
    if last.name.is_empty() {
        return (chain.root_name(src) == Some("sleep")).then_some(chain.root);
    }
    let module = chain.receiver_text(chain.segments.len() - 1, src);
    (last.name == "sleep"
        && matches!(
            module.as_str(),
            "time" | "asyncio" | "gevent" | "trio" | "anyio"
        ))
    .then_some(last.name_node.unwrap_or(last.node))
}

/// Whether `function` (a call's function, as written) schedules a coroutine on
/// the event loop without waiting for it: `asyncio.create_task`,
/// `asyncio.ensure_future`, `loop.create_task`. A `TaskGroup`'s `create_task` is
/// not: the group waits for its tasks when its block ends.
pub fn spawns_task(function: &str) -> bool {
    let name = last_name(function);
    let receiver = function
        .strip_suffix(name.as_str())
        .unwrap_or("")
        .trim_end_matches('.');
    match name.as_str() {
        "ensure_future" => true,
        "create_task" => {
            receiver.is_empty()
                || receiver == "asyncio"
                || receiver.to_ascii_lowercase().ends_with("loop")
                || receiver.ends_with("get_running_loop()")
                || receiver.ends_with("get_event_loop()")
        }
        _ => false,
    }
}

/// Names (last segments: `_lock`, `locks`) the file binds to an in-process lock
/// or to a collection of them: `_lock = asyncio.Lock()`, `self._lock =
/// threading.Lock()`, `locks = defaultdict(asyncio.Lock)`.
pub fn process_locks(root: Node, src: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    for node in descendants(root) {
        if node.kind() != "assignment" {
            continue;
        }
        let (Some(left), Some(right)) = (
            node.child_by_field_name("left"),
            node.child_by_field_name("right"),
        ) else {
            continue;
        };
        let code = text(right, src);
        let builds_lock = right.kind() == "call"
            && right.child_by_field_name("function").is_some_and(|f| {
                let name = last_name(text(f, src));
                LOCK_TYPES.contains(&name.as_str())
                    || name == "defaultdict" && LOCK_TYPES.iter().any(|t| code.contains(t))
            });
        if builds_lock && matches!(left.kind(), "identifier" | "attribute") {
            names.insert(last_name(text(left, src)));
        }
    }
    names
}

/// Whether `node` (a context manager, or the receiver of `acquire()`) is one of
/// the file's in-process locks: `_lock`, `self._lock`, `locks[key]`.
pub fn is_process_lock(node: Node, src: &str, locks: &HashSet<String>) -> bool {
    let node = match node.kind() {
        "subscript" => node.child_by_field_name("value").unwrap_or(node),
        _ => node,
    };
    matches!(node.kind(), "identifier" | "attribute") && locks.contains(&last_name(text(node, src)))
}
