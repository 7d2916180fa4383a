//! `racelint server`: the Language Server Protocol over stdio, for editors.
//! Exit 0 after `shutdown` and `exit`, 1 on an `exit` without `shutdown` (as
//! the protocol asks), 2 when the connection breaks.

use super::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};

pub fn run() -> i32 {
    let (connection, io_threads) = lsp_server::Connection::stdio();
    let served = crate::server::serve(&connection);
    // The writer thread ends when every sender is gone.
    drop(connection);
    let joined = io_threads.join();
    match (served, joined) {
        (Ok(true), _) => EXIT_CLEAN,
        (Ok(false), Ok(())) => EXIT_FINDINGS,
        (Err(e), _) => {
            eprintln!("racelint server: error: {e}");
            EXIT_ERROR
        }
        (Ok(false), Err(e)) => {
            eprintln!("racelint server: error: {e}");
            EXIT_ERROR
        }
    }
}
