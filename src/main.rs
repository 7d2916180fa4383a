//! The `racelint` binary: parse arguments, run, exit with the contract's code.

use clap::Parser;

fn main() {
    let cli = match racelint::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                racelint::cli::EXIT_ERROR
            } else {
                racelint::cli::EXIT_CLEAN
            };
            let _ = error.print();
            std::process::exit(code);
        }
    };
    std::process::exit(racelint::cli::run(cli));
}
