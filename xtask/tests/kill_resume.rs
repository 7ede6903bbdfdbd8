//! A run killed with SIGKILL at any moment and resumed writes the same bytes as a run that was
//! never stopped: `cargo xtask imitate` (metrics.jsonl and imitator.safetensors) and
//! `cargo xtask expert` (curve.csv and expert.safetensors). The process killed is the one
//! started (xtask replaces itself rather than starting a child), so nothing keeps writing.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("magail-kill-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `args` to completion.
fn finish(args: &[String]) {
    let st = xtask().args(args).status().unwrap();
    assert!(st.success(), "xtask {args:?} failed");
}

/// Starts `first`, kills it with SIGKILL after each delay in turn (resuming with `resume`
/// between kills), then lets the last resumption finish. Returns how many kills hit a running
/// process. Each resumed process starts over its delay, so kills land all along the run: in
/// behaviour cloning, mid-iteration, between a checkpoint's two files.
fn kill_and_resume(first: &[String], resume: &[String], delays_ms: &[u64]) -> usize {
    let mut hits = 0;
    let mut args = first;
    for &ms in delays_ms {
        let mut child = xtask().args(args).spawn().unwrap();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(ms) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            hits += 1;
        }
        let _ = child.wait();
        args = resume;
    }
    finish(resume);
    hits
}

fn same_bytes(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Runs `args` + `--out a` uninterrupted, and `args` + `--out b` killed after each delay and
/// resumed (`--resume`); then `files` must hold the same bytes in both folders.
fn killed_run_matches(root: &Path, args: &[String], delays_ms: &[u64], files: &[&str]) {
    let run = |out: &Path, resume: bool| {
        let mut v = args.to_vec();
        v.extend(strings(&["--out", out.to_str().unwrap()]));
        if resume {
            v.push("--resume".into());
        }
        v
    };
    let (a, b) = (root.join("a"), root.join("b"));
    finish(&run(&a, false));
    let hits = kill_and_resume(&run(&b, false), &run(&b, true), delays_ms);
    assert!(hits >= 3, "no kill landed while the run was going");
    for f in files {
        same_bytes(&a.join(f), &b.join(f));
    }
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn an_imitation_killed_and_resumed_writes_the_uninterrupted_bytes() {
    let root = scratch("imitate");
    let demos = root.join("demos.bin");
    finish(&strings(&[
        "demos",
        "--expert",
        "scripted",
        "--env",
        "cooperative_navigation",
        "--episodes",
        "6",
        "--out",
        demos.to_str().unwrap(),
    ]));
    let args = strings(&[
        "imitate",
        "--env",
        "cooperative_navigation",
        "--demos",
        demos.to_str().unwrap(),
        "--method",
        "magail-c",
        "--iterations",
        "200",
        "--bc-epochs",
        "3",
        "--checkpoint-every",
        "2",
        "--episodes",
        "1",
        "--envs",
        "4",
        "--steps-per-iter",
        "7",
    ]);
    killed_run_matches(
        &root,
        &args,
        &[150, 500, 900, 1400, 2000, 2600],
        &["metrics.jsonl", "imitator.safetensors"],
    );
}

#[test]
fn an_expert_run_killed_and_resumed_writes_the_uninterrupted_bytes() {
    let root = scratch("expert");
    let args = strings(&[
        "expert",
        "--env",
        "cooperative_navigation",
        "--steps",
        "12000",
        "--envs",
        "4",
        "--rollout-steps",
        "11",
        "--checkpoint-every",
        "3",
        "--quiet",
    ]);
    killed_run_matches(
        &root,
        &args,
        &[100, 400, 800, 1300, 1900, 2500],
        &["curve.csv", "expert.safetensors"],
    );
}

/// `reproduce` killed while its workers run cells, then run again with the same command,
/// finishes every cell with the bytes of a run never stopped; and each cell run on its own with
/// `--cell ID` (what a Slurm array task runs) writes the same bytes too.
#[test]
fn a_reproduction_killed_and_run_again_writes_the_uninterrupted_bytes() {
    let root = scratch("reproduce");
    let run = |out: &Path| {
        strings(&[
            "reproduce",
            "--smoke",
            "--iterations",
            "300",
            "--workers",
            "2",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (a, b, c) = (root.join("a"), root.join("b"), root.join("c"));
    finish(&run(&a));
    let hits = kill_and_resume(&run(&b), &run(&b), &[300, 900, 1600, 2400]);
    assert!(hits >= 2, "no kill landed while the cells were running");
    // The plan alone, then each cell by its id.
    finish(&[run(&c), strings(&["--plan"])].concat());
    let ids: Vec<String> = std::fs::read_dir(a.join("cells"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(ids.len(), 4);
    for id in &ids {
        finish(&strings(&[
            "reproduce",
            "--out",
            c.to_str().unwrap(),
            "--cell",
            id,
        ]));
    }
    finish(&strings(&[
        "reproduce",
        "--out",
        c.to_str().unwrap(),
        "--report",
    ]));
    for id in &ids {
        let cell = Path::new("cells").join(id);
        for f in ["result.json", "run/imitator.safetensors"] {
            same_bytes(&a.join(&cell).join(f), &b.join(&cell).join(f));
            same_bytes(&a.join(&cell).join(f), &c.join(&cell).join(f));
        }
        if !id.starts_with("navigation-bc-") {
            same_bytes(
                &a.join(&cell).join("run/metrics.jsonl"),
                &b.join(&cell).join("run/metrics.jsonl"),
            );
        }
    }
    same_bytes(&a.join("results.csv"), &c.join("results.csv"));
    let _ = std::fs::remove_dir_all(root);
}
