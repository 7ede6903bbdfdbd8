//! The MAGAIL / AMAGAIL loop: learning above random, φ filtering counted, determinism, and
//! demonstrations for another game refused.

#![allow(clippy::unwrap_used)]

mod common;

use envs::amagail::AmagailGame;
use envs::{EnvConfig, ParticleEnv, Scenario};
use gail::Prior;
use magail_async::{
    ClonedPolicies, Collector, Learners, MagailError, MagailTrainer, PhiMode, Policy, RandomPolicy,
    RolloutConfig, default_config,
};
use mg_core::{Demonstrations, MarkovGame, PlayerRule, Schedule, Synchronous};

fn scripted_demos(env: &ParticleEnv, player: PlayerRule, episodes: usize) -> Demonstrations {
    Demonstrations::new(&common::scripted_demos(env, player, 8, 7, episodes)).unwrap()
}

fn team_return(env: &ParticleEnv, pols: &[&dyn Policy]) -> f64 {
    let mut c = Collector::new(
        env.clone(),
        Synchronous::new(3).unwrap(),
        RolloutConfig {
            envs: 8,
            workers: 2,
            seed: 99,
            history_k: 0,
        },
    )
    .unwrap();
    let set = c.collect_episodes(pols, 40).unwrap();
    set.episodes
        .iter()
        .map(|e| e.returns().iter().sum::<f64>() / 3.0)
        .sum::<f64>()
        / 40.0
}

#[test]
fn a_short_magail_run_ends_clearly_above_random() {
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    let demos = scripted_demos(
        &env,
        PlayerRule::Synchronous(Synchronous::new(3).unwrap()),
        100,
    );
    let mut cfg = default_config(env.spec(), Prior::Decentralized, PhiMode::Filter, 1);
    cfg.bc_epochs = 40;
    let mut t = MagailTrainer::new(env.clone(), Synchronous::new(3).unwrap(), &demos, cfg).unwrap();
    t.behaviour_clone().unwrap();
    for _ in 0..15 {
        t.iterate().unwrap();
    }
    let pols = t.learners().policies(false).expect("policies");
    let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
    let learned = team_return(&env, &refs);
    let randoms = RandomPolicy::for_game(env.spec());
    let rrefs: Vec<&dyn Policy> = randoms.iter().map(|p| p as &dyn Policy).collect();
    let random = team_return(&env, &rrefs);
    let expert: f64 = (0..demos.episodes())
        .map(|e| demos.episode_return(e, 0))
        .sum::<f64>()
        / demos.episodes() as f64;
    let norm = (learned - random) / (expert - random);
    assert!(
        norm > 0.2,
        "normalized {norm:.3} (learned {learned:.1}, random {random:.1}, expert {expert:.1})"
    );
}

#[test]
fn phi_filtering_removes_exactly_the_inactive_samples() {
    let g = AmagailGame::StochasticNavigation;
    let env = ParticleEnv::new(g.env_config()).unwrap();
    let demos = scripted_demos(&env, g.player(), 16);
    let expert_active = demos.columns().agents[0]
        .acted
        .iter()
        .filter(|a| **a)
        .count();
    assert!(
        expert_active < demos.steps(),
        "the demonstrator skips steps too"
    );
    for (mode, all) in [(PhiMode::Filter, false), (PhiMode::AsAction, true)] {
        let cfg = default_config(env.spec(), Prior::Decentralized, mode, 2);
        let mut t = MagailTrainer::new(env.clone(), g.player(), &demos, cfg).unwrap();
        let s = t.iterate().unwrap();
        for i in 0..3 {
            let want = if all {
                s.total_steps
            } else {
                s.active_steps[i]
            };
            assert_eq!(s.disc_samples[i], want, "{mode:?} agent {i}");
            assert!(s.active_steps[i] < s.total_steps);
        }
    }
}

#[test]
fn phi_as_an_action_is_cloned_chosen_and_learned_from() {
    let g = AmagailGame::StochasticNavigation;
    let env = ParticleEnv::new(g.env_config()).unwrap();
    let demos = scripted_demos(&env, g.player(), 16);
    for mode in [PhiMode::Filter, PhiMode::AsAction, PhiMode::AsActionKept] {
        let mut cfg = default_config(env.spec(), Prior::Decentralized, mode, 3);
        cfg.bc_epochs = 30;
        let mut t = MagailTrainer::new(env.clone(), g.player(), &demos, cfg.clone()).unwrap();
        t.behaviour_clone().unwrap();
        let pols = t.learners().policies(false).expect("policies");
        let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
        let mut c = Collector::new(
            env.clone(),
            g.player(),
            RolloutConfig {
                envs: 8,
                workers: 1,
                seed: 11,
                history_k: 0,
            },
        )
        .unwrap();
        let ro = c.collect(&refs, 50).unwrap();
        // φ chosen at steps where the agent was let act: recorded as acting, action index 5.
        let chosen: usize = ro
            .agents
            .iter()
            .map(|a| {
                a.acted
                    .iter()
                    .zip(&a.actions)
                    .filter(|(acted, x)| **acted && **x == 5.0)
                    .count()
            })
            .sum();
        let acted: usize = (0..3).map(|i| ro.active_steps(i)).sum();
        let total = 3 * ro.envs * ro.steps;
        assert!(acted < total);
        // The learners train on the acted steps (filter) or on every step (φ as an action).
        let dims: Vec<usize> = (0..3).map(|i| c.obs_dim(i)).collect();
        let mut l = Learners::new(env.spec(), &dims, cfg.learner.clone(), cfg.phi).unwrap();
        let up = l.update(&ro, None).unwrap();
        match mode {
            PhiMode::Filter => {
                assert_eq!(chosen, 0, "a filtering policy cannot choose φ");
                assert_eq!(t.iterate().unwrap().phi_chosen, vec![0, 0, 0]);
                assert_eq!(up.samples, vec![acted]);
            }
            PhiMode::AsAction | PhiMode::AsActionKept => {
                let s = t.iterate().unwrap();
                assert!(s.phi_chosen.iter().all(|&c| c > 0), "{:?}", s.phi_chosen);
                // The demonstrations hold φ at about half the steps, whatever the state, so
                // the clone chooses it about half the time it may act.
                let share = chosen as f64 / acted as f64;
                assert!((0.25..0.75).contains(&share), "φ chosen at {share:.3}");
                assert_eq!(up.samples, vec![total]);
            }
        }
    }
}

#[test]
fn a_trainer_adopting_anothers_cloning_runs_as_if_it_had_cloned() {
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    let sync = || PlayerRule::Synchronous(Synchronous::new(3).unwrap());
    let demos = scripted_demos(&env, sync(), 16);
    let make = |prior, central: bool, demos: &Demonstrations| {
        let mut cfg = default_config(env.spec(), prior, PhiMode::Filter, 5);
        cfg.bc_epochs = 3;
        cfg.disc_warmup = 1;
        cfg.learner.centralized_value = central;
        MagailTrainer::new(env.clone(), sync(), demos, cfg).unwrap()
    };
    // A decentralized run (no critic of its own kind) clones and goes on training; a
    // centralized MAGAIL run adopts its cloning afterwards and then trains exactly as one that
    // cloned for itself: what was shared is a snapshot, not the cloner's live parameters.
    let stats = |t: &mut MagailTrainer<ParticleEnv, PlayerRule>| {
        (0..3).map(|_| t.iterate().unwrap()).collect::<Vec<_>>()
    };
    let mut cloner = make(Prior::Decentralized, false, &demos);
    let shared = cloner.behaviour_clone_shared().unwrap();
    let values = |c: &ClonedPolicies| {
        let mut v: Vec<(String, Vec<f32>)> = c
            .policies()
            .iter()
            .map(|(k, t)| {
                (
                    k.clone(),
                    t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let before = values(&shared);
    assert!(stats(&mut cloner).iter().any(|s| s.policy_updated));
    assert_eq!(
        values(&shared),
        before,
        "the shared cloning changed with its cloner"
    );
    let mut own = make(Prior::Centralized, true, &demos);
    let loss = own.behaviour_clone().unwrap();
    let mut adopted = make(Prior::Centralized, true, &demos);
    assert_eq!(adopted.bc_key().unwrap(), shared.key());
    assert_eq!(adopted.adopt_clone(&shared).unwrap(), loss);
    assert_eq!(stats(&mut own), stats(&mut adopted));
    // Another demonstration set, or another seed, is another cloning: refused.
    let fewer = scripted_demos(&env, sync(), 8);
    let mut other = make(Prior::Centralized, true, &fewer);
    assert_ne!(other.bc_key().unwrap(), shared.key());
    assert!(matches!(
        other.adopt_clone(&shared),
        Err(MagailError::Config(_))
    ));
    let mut cfg = default_config(env.spec(), Prior::Centralized, PhiMode::Filter, 6);
    cfg.bc_epochs = 3;
    let reseeded = MagailTrainer::new(env.clone(), sync(), &demos, cfg).unwrap();
    assert_ne!(reseeded.bc_key().unwrap(), shared.key());
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    let demos = scripted_demos(
        &env,
        PlayerRule::Synchronous(Synchronous::new(3).unwrap()),
        16,
    );
    let run = || {
        let mut cfg = default_config(env.spec(), Prior::Centralized, PhiMode::Filter, 5);
        cfg.bc_epochs = 2;
        cfg.disc_warmup = 1;
        let mut t =
            MagailTrainer::new(env.clone(), Synchronous::new(3).unwrap(), &demos, cfg).unwrap();
        let bc = t.behaviour_clone().unwrap();
        let stats: Vec<_> = (0..3).map(|_| t.iterate().unwrap()).collect();
        (bc, stats)
    };
    assert_eq!(run(), run());
}

#[test]
fn demonstrations_for_another_game_are_refused_before_training() {
    let spread = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    let demos = scripted_demos(
        &spread,
        PlayerRule::Synchronous(Synchronous::new(3).unwrap()),
        8,
    );
    let mpe2 = ParticleEnv::new(EnvConfig::mpe2(Scenario::Spread)).unwrap();
    let cfg = default_config(mpe2.spec(), Prior::Decentralized, PhiMode::Filter, 0);
    let err = MagailTrainer::new(mpe2, Synchronous::new(3).unwrap(), &demos, cfg)
        .err()
        .unwrap();
    assert!(matches!(err, MagailError::Demos(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("simple_spread/paper") && msg.contains("simple_spread/mpe2"),
        "{msg}"
    );
    // Demonstrations from the asynchronous game are refused for the synchronous one: the file
    // records the player function.
    let g = AmagailGame::StochasticNavigation;
    let async_demos = scripted_demos(&spread, g.player(), 8);
    assert!(
        async_demos.game().contains("stochastic[0.5,0.5,0.5]"),
        "{}",
        async_demos.game()
    );
    let cfg = default_config(spread.spec(), Prior::Decentralized, PhiMode::Filter, 0);
    let err = MagailTrainer::new(
        spread.clone(),
        Synchronous::new(3).unwrap(),
        &async_demos,
        cfg,
    )
    .err()
    .unwrap();
    assert!(matches!(err, MagailError::Demos(_)), "{err}");
}

#[test]
fn a_nan_discriminator_loss_stops_the_run_naming_the_iteration() {
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    let demos = scripted_demos(
        &env,
        PlayerRule::Synchronous(Synchronous::new(3).unwrap()),
        8,
    );
    let mut cfg = default_config(env.spec(), Prior::Decentralized, PhiMode::Filter, 2);
    // An absurd learning rate blows the discriminator's weights up after its first step.
    cfg.disc.lr = 1e30;
    let mut t = MagailTrainer::new(env, Synchronous::new(3).unwrap(), &demos, cfg).unwrap();
    let err = (0..5).find_map(|_| t.iterate().err()).unwrap();
    assert!(matches!(err, MagailError::Disc { .. }), "{err}");
    let it = t.iteration();
    assert!(
        err.to_string().contains(&format!("iteration {it}")),
        "{err}"
    );
}

#[test]
fn a_diverging_critic_stops_the_run_naming_the_iteration_with_finite_weights_kept() {
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    let demos = scripted_demos(
        &env,
        PlayerRule::Synchronous(Synchronous::new(3).unwrap()),
        8,
    );
    let mut cfg = default_config(env.spec(), Prior::Centralized, PhiMode::Filter, 2);
    cfg.bc_epochs = 1;
    // An absurd critic learning rate drives its outputs past f32's range within a fit.
    cfg.learner.trpo.vf_lr = 1e30;
    let mut t = MagailTrainer::new(env, Synchronous::new(3).unwrap(), &demos, cfg).unwrap();
    let mut last_good = t.tensors().unwrap();
    let err = loop {
        match t.iterate() {
            Ok(_) => last_good = t.tensors().unwrap(),
            Err(e) => break e,
        }
        assert!(t.iteration() < 5, "the critic never diverged");
    };
    let it = t.iteration();
    assert!(
        matches!(err, MagailError::Step { iteration, .. } if iteration == it),
        "{err}"
    );
    assert!(err.to_string().contains("not finite"), "{err}");
    // What a checkpoint of the last good iteration would hold is finite: the error came before
    // NaN reached the weights (before the fix the fit returned Ok(NaN) with NaN weights).
    for (name, tensor) in &last_good {
        let v: Vec<f32> = tensor.flatten_all().unwrap().to_vec1().unwrap();
        assert!(v.iter().all(|x| x.is_finite()), "{name}");
    }
    let now = t.tensors().unwrap();
    for (name, tensor) in &now {
        let v: Vec<f32> = tensor.flatten_all().unwrap().to_vec1().unwrap();
        assert!(v.iter().all(|x| !x.is_nan()), "{name} holds NaN");
    }
}

#[test]
fn a_resumed_run_continues_exactly() {
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    let demos = scripted_demos(
        &env,
        PlayerRule::Synchronous(Synchronous::new(3).unwrap()),
        8,
    );
    let mut cfg = default_config(env.spec(), Prior::Centralized, PhiMode::Filter, 3);
    cfg.bc_epochs = 2;
    cfg.disc_warmup = 1;
    cfg.learner.centralized_value = true;
    // 7 steps an iteration: checkpoints fall in the middle of episodes.
    cfg.steps_per_iter = 7;
    cfg.rollout.workers = 2;
    let fresh = || {
        MagailTrainer::new(
            env.clone(),
            Synchronous::new(3).unwrap(),
            &demos,
            cfg.clone(),
        )
        .unwrap()
    };
    let mut a = fresh();
    a.behaviour_clone().unwrap();
    for _ in 0..2 {
        a.iterate().unwrap();
    }
    let saved = a.checkpoint().unwrap();
    assert!(saved.contains_key("disc0.l0.weight") && saved.contains_key("group0.vf.l0.weight"));
    assert_eq!(
        MagailTrainer::<ParticleEnv, Synchronous>::checkpoint_iteration(&saved).unwrap(),
        2
    );
    let uninterrupted: Vec<_> = (0..3).map(|_| a.iterate().unwrap()).collect();
    // A trainer resumed from the checkpoint goes on exactly as the run that wrote it: the same
    // statistics, and the same parameters, moments, streams and games at the end.
    let mut r = fresh();
    r.resume(&saved).unwrap();
    assert_eq!(r.iteration(), 2);
    let resumed: Vec<_> = (0..3).map(|_| r.iterate().unwrap()).collect();
    assert_eq!(resumed, uninterrupted);
    assert_eq!(
        flat(&r.checkpoint().unwrap()),
        flat(&a.checkpoint().unwrap())
    );
    // A checkpoint missing a discriminator tensor is refused by name.
    let mut broken = saved.clone();
    broken.remove("disc0.l1.bias");
    let mut f = fresh();
    let before = flat(&f.tensors().unwrap());
    let err = f.resume(&broken).err().unwrap().to_string();
    assert!(err.contains("disc0.l1.bias"), "{err}");
    // … and changes nothing: not the policies or critics either, which load first.
    assert_eq!(flat(&f.tensors().unwrap()), before);
    assert_eq!(f.iteration(), 0);
}

/// Every tensor's values, in name order.
fn flat(m: &std::collections::HashMap<String, candle_core::Tensor>) -> Vec<(String, Vec<f32>)> {
    let mut v: Vec<_> = m
        .iter()
        .map(|(k, t)| {
            let t = t
                .flatten_all()
                .unwrap()
                .to_dtype(candle_core::DType::F32)
                .unwrap();
            (k.clone(), t.to_vec1().unwrap())
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn the_zero_sum_prior_trains_on_paired_labels_and_gives_opposite_rewards() {
    // Keep-away: one adversary and one good agent.
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Push)).unwrap();
    assert_eq!(env.spec().n_agents(), 2);
    let sync = || PlayerRule::Synchronous(Synchronous::new(2).unwrap());
    let demos = scripted_demos(&env, sync(), 16);
    let mut cfg = default_config(env.spec(), Prior::ZeroSum, PhiMode::Filter, 4);
    cfg.bc_epochs = 5;
    cfg.disc_warmup = 2;
    let mut t = MagailTrainer::new(env.clone(), sync(), &demos, cfg.clone()).unwrap();
    t.behaviour_clone().unwrap();
    let stats: Vec<_> = (0..8).map(|_| t.iterate().unwrap()).collect();
    assert!(
        stats
            .iter()
            .all(|s| s.disc.len() == 1 && s.disc[0].loss.is_finite())
    );
    assert!(stats.last().unwrap().policy_updated);
    // The rewards of any rollout are opposite, and not all zero.
    let pols = t.learners().policies(false).expect("policies");
    let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
    let mut c = Collector::new(
        env.clone(),
        sync(),
        RolloutConfig {
            envs: 4,
            workers: 1,
            seed: 1,
            history_k: 0,
        },
    )
    .unwrap();
    let ro = c.collect(&refs, 20).unwrap();
    let r = t.rewards(&ro).unwrap();
    assert!(r[0].iter().zip(&r[1]).all(|(a, b)| *a == -*b));
    assert!(r[0].iter().any(|x| *x != 0.0));
    // Same seed, same zero-sum run.
    let mut u = MagailTrainer::new(env.clone(), sync(), &demos, cfg.clone()).unwrap();
    u.behaviour_clone().unwrap();
    let again: Vec<_> = (0..8).map(|_| u.iterate().unwrap()).collect();
    assert_eq!(stats, again);
    // Demonstrations with no time step give the zero-sum prior nothing to train on: an error,
    // not a panic when it draws a step.
    let mut empty = demos.to_trajectories();
    for ep in &mut empty.episodes {
        ep.len = 0;
        for a in &mut ep.agents {
            a.obs.clear();
            a.actions.clear();
            a.rewards.clear();
            a.acted.clear();
        }
    }
    let empty = Demonstrations::new(&empty).unwrap();
    assert!(matches!(
        MagailTrainer::new(env.clone(), sync(), &empty, cfg.clone()),
        Err(MagailError::Config(_))
    ));
    // Three agents cannot play a zero-sum prior.
    let spread = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    let three = scripted_demos(
        &spread,
        PlayerRule::Synchronous(Synchronous::new(3).unwrap()),
        2,
    );
    let cfg = default_config(spread.spec(), Prior::ZeroSum, PhiMode::Filter, 0);
    let err = MagailTrainer::new(spread, Synchronous::new(3).unwrap(), &three, cfg)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("two-player"), "{err}");
}

/// Two teams (predator-prey: three predators against the prey): the predators share the
/// discriminator's reward and the prey takes its negation; teams that do not cover the agents,
/// or leave one side empty, are refused.
#[test]
fn the_zero_sum_prior_plays_two_teams() {
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Tag)).unwrap();
    let n = env.spec().n_agents();
    assert_eq!(n, 4);
    let sync = || PlayerRule::Synchronous(Synchronous::new(4).unwrap());
    let demos = scripted_demos(&env, sync(), 8);
    let mut cfg = default_config(env.spec(), Prior::ZeroSum, PhiMode::Filter, 4);
    cfg.bc_epochs = 3;
    cfg.disc_warmup = 1;
    cfg.teams = (0..n).map(|i| env.is_adversary(i)).collect();
    assert_eq!(cfg.teams, [true, true, true, false]);
    let mut t = MagailTrainer::new(env.clone(), sync(), &demos, cfg.clone()).unwrap();
    t.behaviour_clone().unwrap();
    let stats: Vec<_> = (0..3).map(|_| t.iterate().unwrap()).collect();
    assert!(
        stats
            .iter()
            .all(|s| s.disc.len() == 1 && s.disc[0].loss.is_finite())
    );
    let pols = t.learners().policies(false).expect("policies");
    let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
    let mut c = Collector::new(
        env.clone(),
        sync(),
        RolloutConfig {
            envs: 3,
            workers: 1,
            seed: 2,
            history_k: 0,
        },
    )
    .unwrap();
    let ro = c.collect(&refs, 10).unwrap();
    let r = t.rewards(&ro).unwrap();
    for at in 0..30 {
        assert_eq!(r[0][at], r[1][at]);
        assert_eq!(r[0][at], r[2][at]);
        assert_eq!(r[3][at], -r[0][at]);
    }
    assert!(r[0].iter().any(|x| *x != 0.0));
    for bad in [vec![true; 4], vec![false; 4], vec![true, false]] {
        let mut cfg = cfg.clone();
        cfg.teams = bad;
        let err = MagailTrainer::new(env.clone(), sync(), &demos, cfg)
            .err()
            .unwrap();
        assert!(err.to_string().contains("teams"), "{err}");
    }
}

/// Mean log-likelihood of agent 0's demonstrated actions under the learned policy.
fn demo_likelihood<G, P>(t: &MagailTrainer<G, P>, demos: &Demonstrations) -> f64
where
    G: MarkovGame + Clone + Send,
    P: mg_core::PlayerFunction + Clone + Send,
{
    let g = &t.learners().groups()[0];
    let d = demos.obs_dims()[0];
    let a0 = &demos.columns().agents[0];
    let obs = a0.obs.clone();
    let acts: Vec<u32> = a0.actions.iter().map(|&a| a as u32).collect();
    let dev = candle_core::Device::Cpu;
    let n = acts.len();
    let o = candle_core::Tensor::from_vec(obs, (n, d), &dev).unwrap();
    let a = candle_core::Tensor::from_vec(acts, n, &dev).unwrap();
    let dist = g.policy.dist(&o).unwrap();
    let lp = g.policy.log_prob(&dist, &a).unwrap();
    f64::from(lp.mean_all().unwrap().to_scalar::<f32>().unwrap())
}

#[test]
fn a_bc_weight_keeps_the_demonstrations_likely_during_adversarial_training() {
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    let demos = scripted_demos(
        &env,
        PlayerRule::Synchronous(Synchronous::new(3).unwrap()),
        16,
    );
    let run = |w: f64| {
        let mut cfg = default_config(env.spec(), Prior::Centralized, PhiMode::Filter, 3);
        cfg.disc_warmup = 0;
        cfg.bc_weight = w;
        let mut t =
            MagailTrainer::new(env.clone(), Synchronous::new(3).unwrap(), &demos, cfg).unwrap();
        let before = demo_likelihood(&t, &demos);
        for _ in 0..8 {
            t.iterate().unwrap();
        }
        (before, demo_likelihood(&t, &demos))
    };
    // No BC: the policies start random; only the anchored run moves toward the demonstrations.
    let (b0, plain) = run(0.0);
    let (b1, anchored) = run(2.0);
    assert_eq!(b0, b1, "same start");
    assert!(
        anchored > plain + 0.05 && anchored > b1 + 0.05,
        "start {b1:.3}, plain {plain:.3}, anchored {anchored:.3}"
    );
    // A negative or NaN weight is refused by name.
    for w in [-1.0, f64::NAN] {
        let mut cfg = default_config(env.spec(), Prior::Centralized, PhiMode::Filter, 3);
        cfg.bc_weight = w;
        let e = MagailTrainer::new(env.clone(), Synchronous::new(3).unwrap(), &demos, cfg)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("bc_weight"), "{e}");
    }
}

#[test]
fn discriminator_statistics_stay_with_their_agent_when_one_never_acts() {
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    // Agent 0 never acts: its discriminator has nothing to train on.
    let rule = || PlayerRule::Schedule(Schedule::new(3, &[vec![1, 2]]).unwrap());
    let demos = scripted_demos(&env, rule(), 8);
    let mut cfg = default_config(env.spec(), Prior::Decentralized, PhiMode::Filter, 6);
    cfg.bc_epochs = 1;
    let mut t = MagailTrainer::new(env, rule(), &demos, cfg).unwrap();
    let s = t.iterate().unwrap();
    assert_eq!(s.disc_samples.len(), 3);
    assert_eq!(s.disc.len(), 3, "one entry per discriminator");
    assert_eq!(s.disc_samples[0], 0);
    assert_eq!(s.disc[0], Default::default());
    assert!(s.disc_samples[1] > 0 && s.disc[1].loss > 0.0 && s.disc[2].loss > 0.0);
}

#[test]
fn amagail_with_a_centralized_discriminator_leaves_an_idle_agents_output_untrained() {
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    // Agent 0 never acts, agents 1 and 2 always do.
    let rule = || PlayerRule::Schedule(Schedule::new(3, &[vec![1, 2]]).unwrap());
    let demos = scripted_demos(&env, rule(), 8);
    let mut cfg = default_config(env.spec(), Prior::Centralized, PhiMode::Filter, 7);
    cfg.bc_epochs = 1;
    let mut t = MagailTrainer::new(env, rule(), &demos, cfg).unwrap();
    let last = |t: &MagailTrainer<ParticleEnv, PlayerRule>| -> (Vec<Vec<f32>>, Vec<f32>) {
        let m = t.tensors().unwrap();
        (
            m["disc0.l2.weight"].to_vec2().unwrap(),
            m["disc0.l2.bias"].to_vec1().unwrap(),
        )
    };
    let (w0, b0) = last(&t);
    for _ in 0..3 {
        let s = t.iterate().unwrap();
        assert!(s.disc[0].loss.is_finite() && s.disc[0].loss > 0.0);
    }
    let (w1, b1) = last(&t);
    // Output 0 (agent 0's) is filtered out of every step, expert and policy alike: its row of
    // the last layer never moves; the acting agents' outputs learn.
    assert_eq!(w0[0], w1[0]);
    assert_eq!(b0[0], b1[0]);
    assert_ne!(w0[1], w1[1]);
    assert_ne!(w0[2], w1[2]);
}
