//! Fuzz target: `frontend::sql::classify` and the SQL function frontend
//! (`frontend::plpgsql::parse`) must never panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // `racelint check` parses on workers with a 64 MiB stack (`lint::thread_pool`).
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(scope, || {
                let _ = racelint::frontend::sql::classify(&text);
                let _ = racelint::frontend::plpgsql::parse(&text);
            })
            .unwrap()
            .join()
            .unwrap();
    });
});
