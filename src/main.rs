use std::process::ExitCode;

fn main() -> ExitCode {
    icac_ledger::cli::main()
}
