//! `cargo xtask tidy`: formatting, clippy with warnings denied, and the rule that every Rust
//! source file opens with a `//!` doc comment saying what it is for.

use std::path::Path;

use anyhow::{Result, bail};

use crate::{cargo, project_root, run};

/// Source files that do not start with a `//!` line.
pub fn files_without_module_doc(root: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut stack = vec![
        root.join("crates"),
        root.join("xtask"),
        root.join("benches"),
    ];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "target") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                if !text.trim_start().starts_with("//!") {
                    bad.push(p.strip_prefix(root).unwrap_or(&p).display().to_string());
                }
            }
        }
    }
    bad.sort();
    bad
}

pub fn run_tidy() -> Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run(fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run(clippy)?;
    let bad = files_without_module_doc(&project_root());
    if !bad.is_empty() {
        bail!(
            "these source files do not open with a `//!` doc comment: {}",
            bad.join(", ")
        );
    }
    eprintln!("tidy: ok");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_file_opens_with_a_module_doc() {
        let bad = files_without_module_doc(&project_root());
        assert!(bad.is_empty(), "missing `//!` docs: {bad:?}");
    }
}
