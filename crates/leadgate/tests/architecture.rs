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
