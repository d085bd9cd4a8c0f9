//! The last test binary of `cargo test` (packages run in name order, and this
//! package's tests in name order; the crates have no doctests to run after it): says
//! how many PostgreSQL tests of this run did not run for want of a database, so that a
//! run that passed without proving them ends by saying so. The tests note themselves
//! (`leadgate_store::testing::pg_url`).

use std::io::Write;

fn main() {
    // `cargo test -- --list` lists tests; this binary has none.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(folder) = leadgate_store::testing::not_run_folder() else { return };
    let names: Vec<String> = std::fs::read_dir(&folder)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&folder);
    if names.is_empty() {
        return;
    }
    // Noted as "BINARY TEST": counted by test binary.
    let mut by_binary = std::collections::BTreeMap::<String, usize>::new();
    for name in &names {
        *by_binary.entry(name.split(' ').next().unwrap_or_default().to_owned()).or_default() += 1;
    }
    let counts: Vec<String> = by_binary.iter().map(|(binary, n)| format!("{n} in {binary}")).collect();
    let var = leadgate_store::testing::PG_URL_VAR;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\nNOT RUN: {} PostgreSQL tests ({}) passed without testing anything, because {var} is not set.\n\
         Run them with {var}=postgres://USER@HOST:5432/DATABASE cargo test (see the README).\n",
        names.len(),
        counts.join(", "),
    );
}
