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
    for p in ["crates", "xtask", "Cargo.toml", "Cargo.lock"] {
        let path = root.join(p);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    // Git's own files, wherever git keeps them (`.git` is a file in a worktree): HEAD names the
    // branch and does not move on a commit; the branch's ref does, or `packed-refs`, and a
    // branch packed until its next commit gets a new file in the refs folder.
    let mut watched = vec!["HEAD".to_string(), "index".into(), "packed-refs".into()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some((folder, _)) = branch.rsplit_once('/') {
            watched.push(folder.to_string());
        }
        watched.push(branch);
    }
    for p in &watched {
        if let Some(path) = git(&["rev-parse", "--git-path", p]) {
            // `--git-path` answers relative to the working directory, the crate's folder.
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
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
