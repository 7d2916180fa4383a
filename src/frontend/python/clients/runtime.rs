//! The Python runtime's timers and in-process locks: `time.sleep`,
//! `asyncio.sleep`, and `threading.Lock`/`asyncio.Lock` (or `RLock`,
//! `Semaphore`, a `defaultdict` of them) taken with `with`/`async with` or
//! `acquire()`. Neither reaches the database; rules weigh them against the
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
