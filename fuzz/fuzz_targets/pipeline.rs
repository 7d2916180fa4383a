//! Fuzz target: the whole pipeline on one file — parse, lower, link, every rule,
//! suppressions, placing and the JSON report — must never panic, hang or report
//! an internal error. The first byte picks the language, so one corpus seeded
//! from the TypeScript, Rust, Python and SQL-function fixtures covers them all.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let path = match selector % 5 {
        0 => "src/fuzz.ts",
        1 => "src/fuzz.tsx",
        2 => "src/fuzz.rs",
        3 => "app/fuzz.py",
        _ => "db/functions/fuzz.sql",
    };
    // `racelint check` lints on workers with a 64 MiB stack (`lint::thread_pool`).
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(scope, || {
                let (diagnostics, errors) =
                    racelint::lint::lint_text(std::path::Path::new(path), text);
                assert!(
                    errors.iter().all(|e| e.kind != racelint::diagnostic::ErrorKind::InternalError),
                    "{errors:?}"
                );
                let report = racelint::diagnostic::Report {
                    diagnostics,
                    errors,
                    files: 1,
                    elapsed_ms: 0,
                };
                let json = racelint::report::json::render(&report);
                assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
            })
            .unwrap()
            .join()
            .unwrap();
    });
});
