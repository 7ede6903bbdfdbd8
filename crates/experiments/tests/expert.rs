//! An expert run as a library call: starting from another game's expert, warm-up moving only
//! the critics, resume refusals, and settings out of range.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Tensor;
use envs::GameChoice;
use experiments::{ExperimentError, ExpertSpec, Fixed, Start, load_checkpoint, run_expert};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn spec(env: &str, out: &Path) -> ExpertSpec {
    ExpertSpec {
        game: GameChoice {
            env: env.into(),
            variant: envs::Variant::Paper,
        },
        steps: 32,
        seed: 0,
        envs: 2,
        rollout_steps: 8,
        workers: 1,
        max_kl: 0.01,
        centralized_value: true,
        truncation_as_terminal: false,
        fixed: Fixed::SelfPlay,
        start: Start::Init(root().join("assets/experts/simple_spread-paper-s0")),
        value_warmup: 0,
        checkpoint_every: 100,
        out: out.to_path_buf(),
        command: "test".into(),
    }
}

fn flat(m: &HashMap<String, Tensor>, k: &str) -> Vec<f32> {
    m[k].flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("f32 tensor")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("magail-expert-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Starting from another game's expert, the policies keep the loaded weights exactly during
/// the value warm-up while the critics learn. Mismatched sizes or critic kinds are refused with
/// the reason, and so is a resume that changes how the critics treat a step limit.
#[test]
fn init_loads_another_games_expert_and_warmup_moves_only_the_critic() {
    let dir = temp("init");
    let mut a = spec("det_navigation", &dir);
    a.value_warmup = 2; // both iterations (2 copies × 8 steps, 32 steps)
    let mut events = Vec::new();
    run_expert(&a, |e| events.push(e.clone())).expect("fine-tune run");
    assert!(
        matches!(
            events.first(),
            Some(experiments::ExpertEvent::Initialized { .. })
        ),
        "{events:?}"
    );
    let Start::Init(init_dir) = &a.start else {
        unreachable!()
    };
    let (_, init) = load_checkpoint(init_dir).expect("init loads");
    let (meta, out) = load_checkpoint(&dir).expect("output loads");
    assert_eq!(meta.iteration, 2);
    let (before, after) = (
        init.tensors().expect("tensors"),
        out.tensors().expect("tensors"),
    );
    let pi: Vec<&String> = before.keys().filter(|k| k.contains(".pi.")).collect();
    let vf: Vec<&String> = before.keys().filter(|k| k.contains(".vf.")).collect();
    assert!(!pi.is_empty() && !vf.is_empty(), "{:?}", before.keys());
    for k in pi {
        assert_eq!(
            flat(&before, k),
            flat(&after, k),
            "{k} moved during warm-up"
        );
    }
    assert!(
        vf.iter().any(|k| flat(&before, k) != flat(&after, k)),
        "no critic weight moved"
    );
    // The folder now holds a checkpoint: a new run on it is refused, a resume of another game
    // too.
    let err = run_expert(&spec("det_navigation", &dir), |_| {}).expect_err("folder in use");
    assert!(err.to_string().contains("--resume"), "{err}");
    let mut r = spec("det_reaching", &dir);
    r.start = Start::Resume;
    let err = run_expert(&r, |_| {}).expect_err("another game");
    assert!(matches!(err, ExperimentError::GameMismatch { .. }), "{err}");
    // Nor may a resume change what the critics' targets mean.
    let mut t = spec("det_navigation", &dir);
    t.start = Start::Resume;
    t.truncation_as_terminal = true;
    let err = run_expert(&t, |_| {})
        .expect_err("truncation setting differs")
        .to_string();
    assert!(err.contains("--truncation-as-terminal"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);

    let mut b = spec("det_navigation", &dir);
    b.centralized_value = false;
    let err = run_expert(&b, |_| {})
        .expect_err("critic kinds differ")
        .to_string();
    assert!(err.contains("--centralized-value"), "{err}");
    let err = run_expert(&spec("det_reaching", &dir), |_| {})
        .expect_err("12 observations, not 16")
        .to_string();
    assert!(err.contains("do not fit") && err.contains("shape"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Zero sizes, a NaN trust region and a short alternation cycle are refused by name before
/// anything is written.
#[test]
fn settings_out_of_range_are_refused_by_name() {
    let dir = temp("bad");
    type Change = Box<dyn Fn(&mut ExpertSpec)>;
    let cases: Vec<(&str, Change)> = vec![
        ("envs", Box::new(|s| s.envs = 0)),
        ("rollout_steps", Box::new(|s| s.rollout_steps = 0)),
        ("steps", Box::new(|s| s.steps = 0)),
        ("max_kl", Box::new(|s| s.max_kl = f64::NAN)),
        (
            "scripted_every",
            Box::new(|s| {
                s.fixed = Fixed::Alternate {
                    every: 2,
                    random: false,
                }
            }),
        ),
    ];
    for (field, change) in cases {
        let mut s = spec("simple_spread", &dir);
        change(&mut s);
        match run_expert(&s, |_| {}) {
            Err(ExperimentError::Settings { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
        assert!(!dir.exists(), "{field}: a refused run wrote its folder");
    }
}
