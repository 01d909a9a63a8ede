//! The `taskforce` binary: `taskforce center`, `taskforce worker ADDR`.

fn main() -> taskforce::Result<()> {
    taskforce::cli::main()
}
