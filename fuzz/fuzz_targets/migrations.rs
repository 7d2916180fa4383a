//! Fuzz target: `schema::migrations::{split_statements, parse, replay}` must never panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = racelint::schema::migrations::split_statements(&text);
    let parsed = racelint::schema::migrations::parse("migrations/0001_init.sql", &text);
    let _ = racelint::schema::migrations::replay([parsed]);
});
