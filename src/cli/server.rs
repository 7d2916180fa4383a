//! `racelint server`: the Language Server Protocol over stdio, for editors.
//! Exit 0 after `shutdown` and `exit`, 1 on an `exit` without `shutdown` (as
//! the protocol asks), 2 when the connection breaks.

use super::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};

pub fn run() -> i32 {
    let (connection, io_threads) = lsp_server::Connection::stdio();
    let served = crate::server::serve(&connection);
    // The writer thread ends when every sender is gone.
    drop(connection);
    match served {
        // The reader stops after `exit` or at the end of the input: its
        // thread can be waited for.
        Ok(shut_down) => match io_threads.join() {
            Ok(()) if shut_down => EXIT_CLEAN,
            Ok(()) => EXIT_FINDINGS,
            Err(e) => {
                eprintln!("racelint server: error: {e}");
                EXIT_ERROR
            }
        },
        // The reader may still be waiting for input that never comes.
        Err(e) => {
            eprintln!("racelint server: error: {e}");
            EXIT_ERROR
        }
    }
}
