//! Shipped checkpoints load and play; checkpoints are matched to games by their sizes; missing
//! or misplaced checkpoints are clear errors.

use std::path::{Path, PathBuf};

use experiments::{Who, game_for, load_checkpoint, play};
use magail_async::run::return_stats;
use magail_async::{Policy, RandomPolicy};
use mg_core::{MarkovGame, Trajectories};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every shipped expert loads, and plays clearly better than random on a few episodes.
#[test]
fn shipped_experts_load_and_beat_random() {
    let dir = root().join("assets/experts");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir)
        .expect("assets/experts exists")
        .flatten()
    {
        let (meta, learners) = load_checkpoint(&e.path()).expect("shipped checkpoint loads");
        // Sampled actions, as `cargo xtask eval` and `crossplay` evaluate.
        let pols = learners.policies(false).expect("policies");
        let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
        // The good (non-adversary) agents, played by the expert against random adversaries,
        // must beat random good agents against the same random adversaries. (A team mean says
        // nothing in competitive games; docs/experts.md has the adversaries' side in its
        // cross-play tables.)
        let (env, _) = meta.game.build().expect("game");
        let n = env.spec().n_agents();
        let good: Vec<usize> = (0..n).filter(|&i| !env.is_adversary(i)).collect();
        let randoms = RandomPolicy::for_game(env.spec());
        let mixed: Vec<&dyn Policy> = (0..n)
            .map(|i| {
                if good.contains(&i) {
                    refs[i]
                } else {
                    &randoms[i] as &dyn Policy
                }
            })
            .collect();
        let mean_good = |set: &Trajectories| {
            let (per, _) = return_stats(set);
            good.iter().map(|&i| per[i].0).sum::<f64>() / good.len() as f64
        };
        let mine = mean_good(&play(&meta.game, Who::Learned(&mixed), 32, 5).expect("plays"));
        let rand = mean_good(&play(&meta.game, Who::Random, 32, 5).expect("plays"));
        assert!(
            mine > rand + 0.3 * rand.abs(),
            "{}: {mine} vs random {rand}",
            e.path().display()
        );
        checked += 1;
    }
    assert!(checked >= 2);
}

/// `eval --env` and `crossplay --env` play a checkpoint in another game only when every agent's
/// sizes are the same.
#[test]
fn a_checkpoint_plays_only_games_of_its_sizes() {
    let dir = root().join("assets/experts/simple_spread-paper-s0");
    let (meta, _) = load_checkpoint(&dir).expect("shipped checkpoint loads");
    assert_eq!(game_for(&meta, None, None).expect("own game"), meta.game);
    let stoch = game_for(&meta, Some("stoch_navigation"), None).expect("same sizes");
    assert_eq!(stoch.env, "stoch_navigation");
    let err = game_for(&meta, Some("det_reaching"), None)
        .expect_err("one landmark: 12 observations, not 16")
        .to_string();
    assert!(err.contains("det_reaching") && err.contains("16"), "{err}");
    let err = game_for(&meta, Some("simple_nowhere"), None)
        .expect_err("unknown game")
        .to_string();
    assert!(err.contains("simple_nowhere"), "{err}");
}

#[test]
fn a_missing_checkpoint_is_a_clear_error() {
    let err = load_checkpoint(Path::new("/nonexistent/expert"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("does not exist") && err.contains("cargo xtask expert"),
        "{err}"
    );
    // A misspelt folder inside a checkpoint folder is not taken for its parent.
    let shipped = root().join("assets/experts/simple_spread-paper-s0");
    let err = load_checkpoint(&shipped.join("typo"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("typo") && err.contains("does not exist"),
        "{err}"
    );
    // A folder without a checkpoint says what it expected.
    let err = load_checkpoint(&root().join("docs"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("expert.json"), "{err}");
}
