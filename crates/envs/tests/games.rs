//! AMAGAIL's extensive games and tic-tac-toe with its minimax expert.

#![allow(clippy::unwrap_used)]

use envs::amagail::AmagailGame;
use envs::tictactoe::{Minimax, TicTacToe, winner};
use mg_core::{ExtensiveGame, MarkovGame, Participation, Schedule, stream_rng};
use rand::Rng;

#[test]
fn deterministic_games_follow_their_cycle_at_every_step() {
    for g in [
        AmagailGame::DeterministicNavigation,
        AmagailGame::DeterministicReaching,
    ] {
        let mut game = g.build();
        let mut rng = stream_rng(3, 0);
        game.reset(&mut rng);
        let expect = [0b111, 0b011, 0b001];
        let n = game.spec().joint_action_width();
        for t in 0..50 {
            assert_eq!(
                game.participation().bits(),
                expect[t % 3],
                "{} step {t}",
                g.name()
            );
            let s = game.step_joint(&vec![1.0; n], &mut rng).unwrap();
            for i in 0..3 {
                assert_eq!(s.rewards[i].is_some(), s.acted.is_active(i));
            }
            if s.status.done() {
                break;
            }
        }
    }
    let reach = AmagailGame::DeterministicReaching.build();
    assert_eq!(reach.game().world().landmarks().len(), 1);
}

#[test]
fn stochastic_games_match_their_probabilities() {
    for (g, probs) in [
        (AmagailGame::StochasticNavigation, vec![0.5, 0.5, 0.5]),
        (
            AmagailGame::StochasticPredatorPrey,
            vec![0.5, 0.5, 0.5, 1.0],
        ),
    ] {
        let mut game = g.build();
        let n = probs.len();
        let width = game.spec().joint_action_width();
        let mut rng = stream_rng(9, 0);
        let mut counts = vec![0usize; n];
        let mut steps = 0usize;
        while steps < 20_000 {
            game.reset(&mut rng);
            loop {
                let p = game.participation();
                for (i, c) in counts.iter_mut().enumerate() {
                    *c += usize::from(p.is_active(i));
                }
                steps += 1;
                let s = game.step_joint(&vec![0.0; width], &mut rng).unwrap();
                if s.status.done() {
                    break;
                }
            }
        }
        for i in 0..n {
            let f = counts[i] as f64 / steps as f64;
            let sd = (probs[i] * (1.0 - probs[i]) / steps as f64).sqrt();
            assert!(
                (f - probs[i]).abs() <= 4.0 * sd + 1e-12,
                "{} agent {i}: {f}",
                g.name()
            );
        }
    }
}

/// The turns reading of stochastic predator-prey: the prey alone on even steps, the predators
/// by chance (never the prey) on odd ones; the agents that did not act get no reward.
#[test]
fn predator_prey_in_turns_lets_the_prey_act_first() {
    let g = AmagailGame::StochasticPredatorPreyTurns;
    assert_eq!(AmagailGame::from_name(g.name()).unwrap(), g);
    let mut game = g.build();
    let width = game.spec().joint_action_width();
    let mut rng = stream_rng(5, 0);
    let (mut predator_steps, mut odd) = (0usize, 0usize);
    for _ in 0..40 {
        game.reset(&mut rng);
        for t in 0.. {
            let p = game.participation();
            if t % 2 == 0 {
                assert_eq!(p.bits(), 0b1000, "step {t}");
            } else {
                assert!(!p.is_active(3), "step {t}");
                predator_steps += (0..3).filter(|&i| p.is_active(i)).count();
                odd += 3;
            }
            let s = game.step_joint(&vec![0.0; width], &mut rng).unwrap();
            for i in 0..4 {
                assert_eq!(s.rewards[i].is_some(), s.acted.is_active(i));
            }
            if s.status.done() {
                break;
            }
        }
    }
    let f = predator_steps as f64 / odd as f64;
    assert!((f - 0.5).abs() < 4.0 * (0.25 / odd as f64).sqrt(), "{f}");
}

#[test]
fn tictactoe_is_a_draw_and_minimax_never_loses_to_random_players() {
    let mut mm = Minimax::new();
    assert_eq!(
        mm.root_value(),
        0,
        "tic-tac-toe is a draw under perfect play"
    );
    let mut rng = stream_rng(21, 0);
    let mut results = [0usize; 3]; // minimax wins, draws, losses
    for game_no in 0..1000 {
        let minimax_side = game_no % 2;
        let mut g =
            ExtensiveGame::new(TicTacToe::new(), Schedule::round_robin(2).unwrap()).unwrap();
        let mut obs = g.reset_joint(&mut rng);
        loop {
            let mover = g.participation().iter_active().next().unwrap();
            assert_eq!(obs[mover][9], 1.0, "the mover sees that it is its turn");
            let cell = if mover == minimax_side {
                mm.act(&obs[mover])
            } else {
                let empty: Vec<usize> = (0..9).filter(|&c| g.game().board()[c] == 0).collect();
                empty[rng.random_range(0..empty.len())]
            };
            let mut joint = [0.0f32; 2];
            joint[mover] = cell as f32;
            let s = g.step_joint(&joint, &mut rng).unwrap();
            obs = s.obs;
            if s.status.done() {
                let w = winner(g.game().board());
                let mm_mark = if minimax_side == 0 { 1 } else { -1 };
                match w {
                    Some(m) if m == mm_mark => results[0] += 1,
                    Some(_) => results[2] += 1,
                    None => results[1] += 1,
                }
                // The mover's reward is visible, the other agent's is masked.
                assert!(s.rewards[mover].is_some() && s.rewards[1 - mover].is_none());
                break;
            }
        }
    }
    assert_eq!(results[2], 0, "minimax lost: {results:?}");
    assert!(
        results[0] > 700,
        "minimax should beat random players most of the time: {results:?}"
    );
}

#[test]
fn tictactoe_rejects_out_of_turn_moves_and_forfeits_illegal_ones() {
    let mut g = TicTacToe::new();
    g.reset(&mut stream_rng(0, 0));
    let mut r = [0.0; 2];
    let o_only = Participation::from_active(2, &[1]).unwrap();
    assert!(g.step_partial(&[0.0, 4.0], o_only, &mut r).is_err());
    assert!(
        g.step(&[4.0, 4.0], &mut r).is_err(),
        "simultaneous moves are not tic-tac-toe"
    );
    let x_only = Participation::from_active(2, &[0]).unwrap();
    g.step_partial(&[4.0, 0.0], x_only, &mut r).unwrap();
    let s = g.step_partial(&[0.0, 4.0], o_only, &mut r).unwrap();
    assert!(s.terminated);
    assert_eq!(r, [1.0, -1.0], "O played on an occupied cell and forfeits");
}
