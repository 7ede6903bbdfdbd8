//! The crates a user depends on one at a time: each published crate's manifest says what it is
//! (description, license, readme) and packages (`cargo package --list`), so it can be published
//! and read on its own.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

const PUBLISHED: [&str; 7] = [
    "mg-core",
    "envs",
    "trpo",
    "gail",
    "magail-async",
    "experiments",
    "magail",
];

#[test]
fn every_published_crate_describes_itself_and_packages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for name in PUBLISHED {
        let dir = root.join("crates").join(name);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        for key in ["description = ", "license", "readme = \"README.md\""] {
            assert!(manifest.contains(key), "{name}: no {key} in Cargo.toml");
        }
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(readme.starts_with(&format!("# {name}")), "{name}'s README");
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "package",
                "--list",
                "--allow-dirty",
                "--offline",
                "-p",
                name,
            ])
            .current_dir(&root)
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: cargo package --list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for file in ["Cargo.toml", "README.md", "src/lib.rs"] {
            assert!(
                listed.lines().any(|l| l == file),
                "{name}: {file} not packaged"
            );
        }
    }
}
