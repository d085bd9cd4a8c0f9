//! ARCHITECTURE.md is a map that stays true: short enough to read, every file it names
//! exists, and every module of every crate is on it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn map() -> String {
    std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap()
}

/// The `code`-quoted words of the map.
fn quoted(text: &str) -> BTreeSet<String> {
    text.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

fn crates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(root().join("crates")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

#[test]
fn the_map_is_at_most_1500_words() {
    let words = map().split_whitespace().count();
    assert!(words <= 1_500, "ARCHITECTURE.md has {words} words; it is a map, not a history");
}

#[test]
fn every_file_and_folder_the_map_names_exists() {
    let mut places = vec![root()];
    for krate in crates() {
        places.push(krate.join("src"));
        places.push(krate.clone());
    }
    for name in quoted(&map()) {
        let is_path = name.contains('/') || name.ends_with(".rs") || name.ends_with(".sh") || name.ends_with(".md");
        if !is_path || name.contains(' ') || name.starts_with("../") {
            continue;
        }
        let found = places.iter().any(|p| p.join(&name).exists())
            || (name.ends_with(".rs") && crates().iter().any(|k| k.join("src").join(&name).exists()))
            || root().join("bench").join(&name).exists();
        assert!(found, "ARCHITECTURE.md names `{name}`, which is not in the repository");
    }
}

#[test]
fn every_module_of_every_crate_is_on_the_map() {
    let named = quoted(&map());
    let on_map = |module: &str| {
        named
            .iter()
            .any(|n| n == module || *n == format!("{module}.rs") || n.split(['/', ' ', ',']).any(|part| part == module))
    };
    let mut missing = Vec::new();
    for krate in crates() {
        for entry in std::fs::read_dir(krate.join("src")).unwrap() {
            let path = entry.unwrap().path();
            let module = path.file_stem().unwrap().to_string_lossy().into_owned();
            if matches!(module.as_str(), "lib" | "main") {
                continue;
            }
            if !on_map(&module) {
                missing.push(format!("{}/src/{}", krate.file_name().unwrap().to_string_lossy(), module));
            }
        }
    }
    assert!(missing.is_empty(), "modules not on ARCHITECTURE.md's map: {missing:?}");
}

/// The crates a crate's code may use: those of its manifest's `[dependencies]` and
/// `[build-dependencies]`, for every target, by their package names (tests apart: its
/// dev-dependencies set up what they test).
fn code_dependencies(krate: &Path) -> Vec<String> {
    let manifest: toml::Table = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap().parse().unwrap();
    let sections =
        |t: &toml::Table| ["dependencies", "build-dependencies"].map(|k| t.get(k).and_then(|v| v.as_table()).cloned());
    let mut tables: Vec<toml::Table> = sections(&manifest).into_iter().flatten().collect();
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        for target in targets.values().filter_map(|t| t.as_table()) {
            tables.extend(sections(target).into_iter().flatten());
        }
    }
    let mut names: Vec<String> = tables
        .iter()
        .flat_map(|t| t.iter())
        .map(|(name, spec)| spec.get("package").and_then(|p| p.as_str()).map_or_else(|| name.clone(), str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn only_the_application_reaches_the_store() {
    let mut reaching = Vec::new();
    for krate in crates() {
        let uses = code_dependencies(&krate);
        // Every crate but the core depends on something of leadgate's: a reading that
        // found nothing would pass.
        let name = krate.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name == "leadgate-core" || uses.iter().any(|d| d.starts_with("leadgate-")), "{name}: {uses:?}");
        if uses.iter().any(|d| d == "leadgate-store") {
            reaching.push(name);
        }
    }
    assert_eq!(reaching, ["leadgate-app"], "crates whose code depends on leadgate-store");
}

/// Source files stay small enough to read whole (tests apart, whose length is their
/// cases'): one over 800 lines is doing several jobs.
#[test]
fn no_source_file_is_over_800_lines() {
    fn walk(dir: &Path, long: &mut Vec<String>, seen: &mut usize) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, long, seen);
            } else if path.extension().is_some_and(|x| x == "rs") {
                *seen += 1;
                let lines = std::fs::read_to_string(&path).unwrap().lines().count();
                if lines > 800 {
                    long.push(format!("{} ({lines} lines)", path.strip_prefix(root()).unwrap_or(&path).display()));
                }
            }
        }
    }
    let (mut long, mut seen) = (Vec::new(), 0);
    for krate in crates() {
        walk(&krate.join("src"), &mut long, &mut seen);
    }
    assert!(seen > 50, "only {seen} source files found");
    assert!(long.is_empty(), "source files over 800 lines (split them by what they do): {long:?}");
}
