//! The crate user's view, built as a user builds it: `tests/user_project` is a project of its own
//! outside the workspace that depends on `mg-core`, `gail` and `magail-async` by path, defines a
//! game that is not one of `envs`, records a scripted expert and trains MAGAIL on it in a few
//! lines. It shares this workspace's compiled dependencies (same profiles, same target folder).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

#[test]
fn a_project_outside_the_workspace_trains_magail_on_its_own_game() {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| xtask.join("../target"));
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["run", "--quiet", "--offline", "--manifest-path"])
        .arg(xtask.join("tests/user_project/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env("RAYON_NUM_THREADS", "1")
        .env("CANDLE_NUM_THREADS", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the user project failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "random R imitator I expert E iterations K"
    let words: Vec<&str> = text.split_whitespace().collect();
    let value = |name: &str| -> f64 {
        let k = words.iter().position(|w| *w == name).unwrap();
        words[k + 1].parse().unwrap()
    };
    let (random, imitator, expert) = (value("random"), value("imitator"), value("expert"));
    assert_eq!(value("iterations"), 5.0, "{text}");
    assert!(expert > random + 5.0, "{text}");
    assert!(
        imitator - random > 0.8 * (expert - random),
        "the imitator should close most of the gap from random to the expert: {text}"
    );
}
