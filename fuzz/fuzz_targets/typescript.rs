//! Fuzz target: `frontend::typescript::parse` must never panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // `racelint check` parses on workers with a 64 MiB stack (`lint::thread_pool`).
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(scope, || {
                use racelint::frontend::typescript::{clients::FileHints, parse, Dialect};
                // The first byte picks the grammar, so one corpus covers both.
                let dialect = if data.first().is_some_and(|b| b & 1 == 1) {
                    Dialect::Tsx
                } else {
                    Dialect::TypeScript
                };
                let hints = FileHints::of(&text);
                let _ = parse(&text, dialect, &hints);
            })
            .unwrap()
            .join()
            .unwrap();
    });
});
