//! TRPO experts clearly improve on a small particle task within a CI-sized budget, the same seed
//! gives the same run, and checkpoints round-trip.

#![allow(clippy::unwrap_used)]

use envs::{EnvConfig, ParticleEnv, Scenario};
use magail_async::{ExpertTrainer, LearnerConfig, Learners, RolloutConfig};
use mg_core::{MarkovGame, PhiMode, Synchronous};
use trpo::TrpoConfig;

fn trainer(seed: u64) -> ExpertTrainer<ParticleEnv, Synchronous> {
    // Cooperative communication with the mpe2 rules: a listener that must learn to use what the
    // speaker says; 25-step episodes keep the budget small.
    let game = ParticleEnv::new(EnvConfig::mpe2(Scenario::SpeakerListener)).unwrap();
    let lc = LearnerConfig::sharing_identical(
        game.spec(),
        TrpoConfig {
            max_kl: 0.02,
            vf_epochs: 5,
            vf_minibatches: 4,
            ..TrpoConfig::default()
        },
        seed,
    );
    let rc = RolloutConfig {
        envs: 16,
        workers: 2,
        seed,
        history_k: 0,
    };
    ExpertTrainer::new(game, Synchronous::new(2).unwrap(), rc, lc, 50).unwrap()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn trpo_clearly_improves_cooperative_communication() {
    let mut t = trainer(3);
    let mut curve = Vec::new();
    for _ in 0..60 {
        let s = t.iterate().unwrap();
        curve.push(mean(&s.mean_return));
    }
    let first = mean(&curve[..5]);
    let last = mean(&curve[curve.len() - 5..]);
    // Random play scores about −13 per episode here; the speaker-free optimum is about −3.
    assert!(
        last > first + 0.4 * first.abs(),
        "no clear improvement: {first:.2} -> {last:.2}"
    );
}

#[test]
fn the_same_seed_gives_the_same_run_and_checkpoints_round_trip() {
    let run = |seed| {
        let mut t = trainer(seed);
        let stats: Vec<_> = (0..3).map(|_| t.iterate().unwrap()).collect();
        (stats, t)
    };
    let (a, ta) = run(9);
    let (b, _) = run(9);
    assert_eq!(a, b);
    let (c, _) = run(10);
    assert_ne!(a, c);
    // Load the trained parameters into fresh learners: identical tensors.
    let spec = ta.collector().spec().clone();
    let dims: Vec<usize> = (0..2).map(|i| ta.collector().obs_dim(i)).collect();
    let mut fresh = Learners::new(
        &spec,
        &dims,
        ta.learners().config().clone(),
        PhiMode::Filter,
    )
    .unwrap();
    let saved = ta.learners().tensors().unwrap();
    fresh.load_tensors(&saved, false).unwrap();
    for (k, v) in fresh.tensors().unwrap() {
        let w = &saved[&k];
        let d = (v - w)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(d, 0.0, "{k}");
    }
    // A checkpoint with a missing or misshapen tensor is refused with its name.
    let mut broken = saved.clone();
    broken.remove("group0.pi.l0.weight");
    let err = fresh.load_tensors(&broken, false).unwrap_err().to_string();
    assert!(err.contains("group0.pi.l0.weight"), "{err}");
    // A bad tensor late in the order (a critic's, after every policy tensor) changes nothing.
    let mut other = Learners::new(
        &spec,
        &dims,
        ta.learners().config().clone(),
        PhiMode::Filter,
    )
    .unwrap();
    let before = other.tensors().unwrap();
    let mut nan = saved.clone();
    let key = "group0.vf.l0.weight";
    let t = nan[key].clone();
    nan.insert(key.into(), (t * f64::NAN).unwrap());
    let err = other.load_tensors(&nan, false).unwrap_err().to_string();
    assert!(err.contains(key) && err.contains("NaN"), "{err}");
    for (k, v) in other.tensors().unwrap() {
        let same = (v - &before[&k]).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(same.to_scalar::<f32>().unwrap(), 0.0, "{k} changed");
    }
}

#[test]
fn a_centralized_critic_predicts_what_the_speaker_cannot_see() {
    // The speaker observes only the goal colour, but its return is the listener's distance to
    // the goal: its own value network cannot predict it, a critic that also reads the listener's
    // observation can. Fit both critics on the same random-play rollouts and compare losses,
    // with γ = 0 so that the target is the step's reward (−distance²), not a return whose
    // remaining length neither critic observes.
    use magail_async::{Collector, Policy, RandomPolicy};
    let game = ParticleEnv::new(EnvConfig::mpe2(Scenario::SpeakerListener)).unwrap();
    let spec = game.spec().clone();
    let rc = RolloutConfig {
        envs: 16,
        workers: 1,
        seed: 4,
        history_k: 0,
    };
    let mut col = Collector::new(game, Synchronous::new(2).unwrap(), rc).unwrap();
    let dims: Vec<usize> = (0..2).map(|i| col.obs_dim(i)).collect();
    let speaker = spec
        .agents
        .iter()
        .position(|a| a.name.starts_with("speaker"))
        .unwrap();
    let randoms = RandomPolicy::for_game(&spec);
    let refs: Vec<&dyn Policy> = randoms.iter().map(|p| p as &dyn Policy).collect();
    let rollouts: Vec<_> = (0..20).map(|_| col.collect(&refs, 50).unwrap()).collect();
    let fit = |centralized: bool| -> f64 {
        let trpo = TrpoConfig {
            gamma: 0.0,
            ..TrpoConfig::default()
        };
        let lc =
            LearnerConfig::sharing_identical(&spec, trpo, 1).with_centralized_value(centralized);
        let group = lc.groups[speaker];
        let mut l = Learners::new(&spec, &dims, lc, PhiMode::Filter).unwrap();
        let want = if centralized {
            dims[speaker] + dims.iter().sum::<usize>()
        } else {
            dims[speaker]
        };
        assert_eq!(l.groups()[group].value.mlp().dims()[0], want);
        let mut loss = 0.0;
        for ro in &rollouts {
            loss = l.update_parts(ro, None, false).unwrap().vf_loss[group];
        }
        loss
    };
    let own = fit(false);
    let central = fit(true);
    assert!(
        central < 0.3 * own,
        "the centralized critic should fit the speaker's returns clearly better: {central} vs {own}"
    );
}

#[test]
fn a_fixed_opponent_plays_and_only_the_other_side_learns() {
    use magail_async::{Policy, RandomPolicy};
    let game = ParticleEnv::new(EnvConfig::mpe2(Scenario::Push)).unwrap();
    let spec = game.spec().clone();
    let lc = LearnerConfig::sharing_identical(&spec, TrpoConfig::default(), 2);
    let adv = spec
        .agents
        .iter()
        .position(|a| a.name.starts_with("adversary"))
        .unwrap();
    let (g_adv, g_good) = (lc.groups[adv], lc.groups[1 - adv]);
    let rc = RolloutConfig {
        envs: 8,
        workers: 1,
        seed: 2,
        history_k: 0,
    };
    let mut t = ExpertTrainer::new(game, Synchronous::new(2).unwrap(), rc, lc, 25).unwrap();
    // A snapshot: later updates must not show in it.
    let before = t.learners().tensors().unwrap();
    let random = RandomPolicy::new(spec.action_space(adv));
    let mut fixed: Vec<Option<&dyn Policy>> = vec![None, None];
    fixed[adv] = Some(&random);
    let s = t.iterate_against(&fixed).unwrap();
    assert_eq!(s.update.samples[g_adv], 0);
    assert!(s.update.samples[g_good] > 0);
    let after = t.learners().tensors().unwrap();
    let changed = |g: usize| {
        before.iter().any(|(k, v)| {
            k.starts_with(&format!("group{g}."))
                && (v - &after[k])
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    > 0.0
        })
    };
    assert!(!changed(g_adv), "the fixed side's networks must not move");
    assert!(changed(g_good), "the learning side's networks must move");
    assert!(t.iterate_against(&fixed[..1]).is_err());
}

#[test]
fn a_resumed_expert_run_continues_exactly() {
    let mut a = trainer(5);
    for _ in 0..2 {
        a.iterate().unwrap();
    }
    // Between iterations; the games' states travel with the checkpoint (test magail.rs
    // checkpoints mid-episode).
    let saved = a.checkpoint().unwrap();
    let rest: Vec<_> = (0..3).map(|_| a.iterate().unwrap()).collect();
    let mut b = trainer(5);
    b.resume(&saved).unwrap();
    assert_eq!(b.iteration(), 2);
    let resumed: Vec<_> = (0..3).map(|_| b.iterate().unwrap()).collect();
    assert_eq!(resumed, rest);
    let bits = |m: &std::collections::HashMap<String, candle_core::Tensor>| {
        let mut v: Vec<(String, Vec<u8>)> = m
            .iter()
            .map(|(k, t)| {
                let t = t.flatten_all().unwrap();
                let bytes = match t.dtype() {
                    candle_core::DType::U8 => t.to_vec1::<u8>().unwrap(),
                    _ => t
                        .to_dtype(candle_core::DType::F32)
                        .unwrap()
                        .to_vec1::<f32>()
                        .unwrap()
                        .iter()
                        .flat_map(|x| x.to_le_bytes())
                        .collect(),
                };
                (k.clone(), bytes)
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        bits(&b.checkpoint().unwrap()),
        bits(&a.checkpoint().unwrap())
    );
    // Parameters without the training state can be evaluated, not continued.
    let mut params_only = saved.clone();
    params_only.remove(magail_async::STATE_KEY);
    let err = trainer(5).resume(&params_only).unwrap_err().to_string();
    assert!(err.contains("not continued"), "{err}");
}

/// A clock: one agent observes t/5, earns 1 at every step, and the episode is cut off after 5
/// steps. With the cut treated as terminal the critic learns the finite-horizon return
/// Σ_{k<5−t} γ^k (1 at the last step, 4.0951 at the first, γ = 0.9); bootstrapping from the
/// final observation instead lifts the last step's target above its reward.
#[test]
fn a_step_limit_treated_as_terminal_gives_the_finite_horizon_return() {
    use candle_core::{Device, Tensor};
    use magail_async::{Collector, Policy, RandomPolicy};
    use mg_core::{ActionSpace, AgentSpec, GameError, GameSpec, Participation, StepStatus};
    #[derive(Clone)]
    struct Clock(GameSpec, usize);
    impl MarkovGame for Clock {
        fn spec(&self) -> &GameSpec {
            &self.0
        }
        fn reset(&mut self, _: &mut dyn rand::RngCore) {
            self.1 = 0;
        }
        fn observe(&self, _: usize, out: &mut [f32]) {
            out[0] = self.1 as f32 / 5.0;
        }
        fn step(&mut self, a: &[f32], r: &mut [f64]) -> Result<StepStatus, GameError> {
            self.step_partial(a, Participation::all(1), r)
        }
        fn step_partial(
            &mut self,
            _: &[f32],
            _: Participation,
            r: &mut [f64],
        ) -> Result<StepStatus, GameError> {
            self.1 += 1;
            r[0] = 1.0;
            Ok(StepStatus {
                terminated: false,
                truncated: self.1 == 5,
            })
        }
    }
    let spec = GameSpec {
        name: "clock".into(),
        agents: vec![AgentSpec {
            name: "a".into(),
            obs_dim: 1,
            action_space: ActionSpace::Discrete { n: 2 },
            action_mask: false,
        }],
        max_steps: Some(5),
    };
    let rc = RolloutConfig {
        envs: 4,
        workers: 1,
        seed: 0,
        history_k: 0,
    };
    let mut col = Collector::new(Clock(spec.clone(), 0), Synchronous::new(1).unwrap(), rc).unwrap();
    let random = RandomPolicy::new(ActionSpace::Discrete { n: 2 });
    let ro = col.collect(&[&random as &dyn Policy], 20).unwrap();
    let values = |terminal: bool| -> Vec<f64> {
        let trpo = TrpoConfig {
            gamma: 0.9,
            vf_lr: 3e-3,
            ..TrpoConfig::default()
        };
        let lc =
            LearnerConfig::sharing_identical(&spec, trpo, 0).with_truncation_as_terminal(terminal);
        let mut l = Learners::new(&spec, &[1], lc, PhiMode::Filter).unwrap();
        for _ in 0..150 {
            l.update_parts(&ro, None, false).unwrap();
        }
        let obs = Tensor::from_slice(&[0.0f32, 0.8], (2, 1), &Device::Cpu).unwrap();
        l.groups()[0].value.predict(&obs).unwrap()
    };
    let cut = values(true);
    let want = [(1.0 - 0.9f64.powi(5)) / 0.1, 1.0];
    for (got, want) in cut.iter().zip(want) {
        assert!((got - want).abs() < 0.1, "{cut:?}, want {want:?}");
    }
    let boot = values(false);
    assert!(
        boot[1] > 1.3,
        "bootstrapped last step should exceed its reward: {boot:?}"
    );
}
