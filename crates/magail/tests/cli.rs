//! The installed `magail` as a user runs it: its help names every command, the smoke
//! reproduction runs end to end from a clone, and outside one it says where the shipped experts
//! are expected instead of failing obscurely.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn magail() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_magail"));
    c.env_remove("MAGAIL_ROOT");
    c
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn help_names_every_command() {
    let out = magail().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for c in [
        "conformance",
        "render",
        "expert",
        "eval",
        "demos",
        "imitate",
        "reproduce",
        "crossplay",
    ] {
        assert!(
            help.contains(&format!("  {c} ")),
            "{c} missing from:\n{help}"
        );
    }
    let out = magail().arg("train-everything").output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn smoke_reproduction_runs_from_a_clone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = scratch("smoke");
    // From a folder inside the clone: the root is found above it.
    let st = magail()
        .args(["reproduce", "--smoke", "--out"])
        .arg(&out)
        .current_dir(root.join("crates"))
        .status()
        .unwrap();
    assert!(st.success());
    let table = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(table.contains("| demos | BC | MAGAIL centralized | MAGAIL decentralized |"));
    let cells = std::fs::read_dir(out.join("cells")).unwrap().count();
    assert_eq!(cells, 4);
}

#[test]
fn outside_a_clone_it_says_where_the_experts_are_expected() {
    // The system's temporary folder: the test's own scratch space lies inside the clone.
    let away = std::env::temp_dir().join(format!("magail-cli-away-{}", std::process::id()));
    std::fs::create_dir_all(&away).unwrap();
    let out = magail()
        .args(["reproduce", "--smoke", "--out", "smoke"])
        .current_dir(&away)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("MAGAIL_ROOT"), "{err}");
    assert!(!away.join("smoke/results.md").exists());
    std::fs::remove_dir_all(&away).unwrap();
}
