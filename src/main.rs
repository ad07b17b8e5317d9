use std::process::ExitCode;

// glibc malloc took about a third of the CPU of a projection rebuild (many small,
// short-lived strings and maps per event, freed on other threads than allocated them);
// mimalloc's thread-local free lists remove most of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    icac_ledger::cli::main()
}
