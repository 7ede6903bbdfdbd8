//! A crate user's view of magail-rs: a game of our own (not one of `envs`), demonstrations from a
//! scripted expert, and MAGAIL with the centralized prior trained on them, using only `mg-core`,
//! `gail` and `magail-async`. Prints one line: the mean team return of random play, of the
//! trained imitator and of the expert, on the same 200 evaluation episodes.

use gail::Prior;
use magail_async::run::{play, return_stats};
use magail_async::{FnPolicy, MagailTrainer, PhiMode, Policy, RandomPolicy, default_config};
use mg_core::{
    ActionSpace, AgentSpec, GameError, GameSpec, MarkovGame, Participation, StepStatus, Synchronous,
};
use rand::{Rng, RngCore};

/// Two agents on a line meet at a target drawn at reset: each moves left, stays or moves right
/// by 0.1 and sees its position, the other's offset and the target's offset; both are rewarded
/// minus the mean distance to the target, for 20 steps.
#[derive(Clone)]
struct Rendezvous {
    spec: GameSpec,
    x: [f64; 2],
    target: f64,
    t: usize,
}

impl Rendezvous {
    fn new() -> Self {
        let agent = |i: usize| AgentSpec {
            name: format!("walker_{i}"),
            obs_dim: 3,
            action_space: ActionSpace::Discrete { n: 3 },
            action_mask: false,
        };
        let spec = GameSpec {
            name: "rendezvous".into(),
            agents: vec![agent(0), agent(1)],
            max_steps: Some(20),
        };
        Self {
            spec,
            x: [0.0; 2],
            target: 0.0,
            t: 0,
        }
    }
}

impl MarkovGame for Rendezvous {
    fn spec(&self) -> &GameSpec {
        &self.spec
    }
    fn reset(&mut self, rng: &mut dyn RngCore) {
        self.x = [rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)];
        self.target = rng.random_range(-1.0..1.0);
        self.t = 0;
    }
    fn observe(&self, i: usize, out: &mut [f32]) {
        out[0] = self.x[i] as f32;
        out[1] = (self.x[1 - i] - self.x[i]) as f32;
        out[2] = (self.target - self.x[i]) as f32;
    }
    fn step(&mut self, actions: &[f32], rewards: &mut [f64]) -> Result<StepStatus, GameError> {
        self.step_partial(actions, Participation::all(2), rewards)
    }
    fn step_partial(
        &mut self,
        actions: &[f32],
        acting: Participation,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        for i in 0..2 {
            if acting.is_active(i) {
                self.x[i] += 0.1 * (f64::from(actions[i]) - 1.0);
            }
        }
        let r = -(0..2).map(|i| (self.x[i] - self.target).abs()).sum::<f64>() / 2.0;
        rewards.fill(r);
        // The game ends its own episodes: `max_steps` in the spec only describes them.
        self.t += 1;
        Ok(StepStatus {
            terminated: false,
            truncated: self.t >= 20,
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let game = Rendezvous::new();
    // The expert steps toward the target.
    let expert = FnPolicy::new(3, 1, |o: &[f32], a: &mut [f32]| {
        a[0] = if o[2] > 0.05 {
            2.0
        } else if o[2] < -0.05 {
            0.0
        } else {
            1.0
        };
    });
    let experts: [&dyn Policy; 2] = [&expert, &expert];
    let player = || Synchronous::new(2).expect("two agents");
    let demos = mg_core::Demonstrations::new(&play(game.clone(), player(), &experts, 100, 7)?)?;

    // MAGAIL, centralized prior, from the library's defaults: clone, then a few iterations.
    let mut cfg = default_config(game.spec(), Prior::Centralized, PhiMode::Filter, 0);
    cfg.bc_epochs = 200;
    cfg.rollout.envs = 8;
    let mut trainer = MagailTrainer::new(game.clone(), player(), &demos, cfg)?;
    trainer.behaviour_clone()?;
    for _ in 0..5 {
        trainer.iterate()?;
    }

    let learned = trainer.learners().policies(false)?;
    let imitators: Vec<&dyn Policy> = learned.iter().map(|p| p as &dyn Policy).collect();
    let random = RandomPolicy::new(ActionSpace::Discrete { n: 3 });
    let randoms: [&dyn Policy; 2] = [&random, &random];
    let score = |pols: &[&dyn Policy]| -> Result<f64, Box<dyn std::error::Error>> {
        Ok(return_stats(&play(game.clone(), player(), pols, 200, 1_000_003)?).1)
    };
    println!(
        "random {:.3} imitator {:.3} expert {:.3} iterations {}",
        score(&randoms)?,
        score(&imitators)?,
        score(&experts)?,
        trainer.iteration()
    );
    Ok(())
}
