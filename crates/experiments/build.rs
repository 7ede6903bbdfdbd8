//! Embeds the commit this crate is built from (`MAGAIL_COMMIT`), so every cell result records
//! the code that produced it: the hash, with `-dirty` when tracked files differ from it, or
//! `unknown` outside a git checkout (a packaged crate).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // `.git/HEAD` names the branch and does not change when a commit moves it: the branch's
    // own ref (or `packed-refs`, where git packs it) does.
    let mut watched: Vec<String> = [
        ".git/HEAD",
        ".git/index",
        ".git/packed-refs",
        "crates",
        "xtask",
        "Cargo.toml",
        "Cargo.lock",
    ]
    .map(String::from)
    .to_vec();
    if let Ok(head) = std::fs::read_to_string(root.join(".git/HEAD"))
        && let Some(branch) = head.trim().strip_prefix("ref: ")
    {
        watched.push(format!(".git/{branch}"));
    }
    for p in &watched {
        let path = root.join(p);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let commit = match git(&["rev-parse", "HEAD"]) {
        Some(hash) if !hash.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{hash}-dirty") } else { hash }
        }
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=MAGAIL_COMMIT={commit}");
}
