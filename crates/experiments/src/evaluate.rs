//! Playing and scoring particle games: the scripted reference, random play and learned policies,
//! on fixed seeds, with the one normalization every command reports ([`run::Evaluation`]).

use envs::scripted::ScriptedPolicy;
use envs::{GameChoice, ParticleEnv};
use magail_async::run::{self, return_stats};
use magail_async::{FnPolicy, Policy, RandomPolicy};
use mg_core::{MarkovGame, Trajectories};

use crate::error::Result;

/// Which policies act.
#[derive(Clone, Copy)]
pub enum Who<'a> {
    /// Uniformly random actions.
    Random,
    /// The scripted reference.
    Scripted,
    /// Learned policies (one per agent).
    Learned(&'a [&'a dyn Policy]),
}

/// The scripted reference of every agent of `env`, as rollout policies.
pub fn scripted_policies(env: &ParticleEnv) -> Vec<Box<dyn Policy>> {
    let scripted = ScriptedPolicy::new(env);
    let spec = env.spec();
    (0..spec.n_agents())
        .map(|i| {
            let s = scripted.clone();
            let (d, w) = (spec.obs_dim(i), spec.action_space(i).width());
            Box::new(FnPolicy::new(d, w, move |o: &[f32], a: &mut [f32]| {
                s.act(i, o, a)
            })) as Box<dyn Policy>
        })
        .collect()
}

/// Plays `episodes` episodes on fixed seeds (stream `seed`) and returns them.
pub fn play(game: &GameChoice, who: Who<'_>, episodes: usize, seed: u64) -> Result<Trajectories> {
    let (env, player) = game.build()?;
    let spec = env.spec().clone();
    let fns = scripted_policies(&env);
    let randoms = RandomPolicy::for_game(&spec);
    let pols: Vec<&dyn Policy> = match who {
        Who::Random => randoms.iter().map(|p| p as &dyn Policy).collect(),
        Who::Scripted => fns.iter().map(|p| p.as_ref()).collect(),
        Who::Learned(p) => p.to_vec(),
    };
    Ok(run::play(env, player, &pols, episodes, seed)?)
}

/// The seed of the validation episodes: [`run::EVAL_SEED`], the episodes `eval`, `imitate` and
/// every earlier experiment scored on, and so the episodes every setting so far was chosen on.
pub const VALIDATION_SEED: u64 = run::EVAL_SEED;

/// The seed of the test episodes, which the reproduction's tables and claims report: disjoint
/// from the validation episodes and from every training stream, and never used to choose a
/// setting.
pub const TEST_SEED: u64 = 3_000_017;

/// The evaluation `eval` and `imitate` report ([`run::Evaluation`]): `policies`, random actions
/// and `reference`, each on the same `episodes` validation episodes of [`run::EVAL_SEED`].
pub fn evaluate(
    game: &GameChoice,
    policies: &[&dyn Policy],
    reference: Who<'_>,
    episodes: usize,
) -> Result<run::Evaluation> {
    evaluate_on(game, policies, reference, episodes, run::EVAL_SEED)
}

/// [`evaluate`] on the episodes of another seed ([`TEST_SEED`] for the tables).
pub fn evaluate_on(
    game: &GameChoice,
    policies: &[&dyn Policy],
    reference: Who<'_>,
    episodes: usize,
    seed: u64,
) -> Result<run::Evaluation> {
    Ok(score_on(game, policies, reference, episodes, seed)?.eval)
}

/// Each episode's team return (the mean over agents of its returns), in the order played:
/// their mean is [`return_stats`]'s team mean.
pub fn team_returns(set: &Trajectories) -> Vec<f64> {
    let n = set.obs_dims.len() as f64;
    set.episodes
        .iter()
        .map(|e| e.returns().iter().sum::<f64>() / n)
        .collect()
}

/// An evaluation that keeps its episodes: the means of [`evaluate_on`], each episode's team
/// return of the policies, and the reference's mean return per agent.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// The means: policies, random actions and the reference.
    pub eval: run::Evaluation,
    /// The policies' team return, episode by episode.
    pub episodes: Vec<f64>,
    /// The reference's mean return of each agent.
    pub reference_agents: Vec<f64>,
}

/// [`evaluate_on`], keeping each episode's team return of `policies` and the reference's
/// return per agent (the same means, bit for bit).
pub fn score_on(
    game: &GameChoice,
    policies: &[&dyn Policy],
    reference: Who<'_>,
    episodes: usize,
    seed: u64,
) -> Result<Scored> {
    let own = play(game, Who::Learned(policies), episodes, seed)?;
    let random = play(game, Who::Random, episodes, seed)?;
    let refs = play(game, reference, episodes, seed)?;
    let (per_ref, reference_team) = return_stats(&refs);
    Ok(Scored {
        eval: run::Evaluation {
            episodes,
            seed,
            score: return_stats(&own).1,
            random: return_stats(&random).1,
            reference: reference_team,
        },
        episodes: team_returns(&own),
        reference_agents: per_ref.into_iter().map(|(m, _)| m).collect(),
    })
}

/// The two sides of a competitive game, one value each.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sides {
    /// The good agents' mean return.
    pub good: f64,
    /// The adversaries' mean return.
    pub adversaries: f64,
}

/// Which agents of `game` are adversaries.
pub fn adversaries_of(game: &GameChoice) -> Result<Vec<bool>> {
    let (env, _) = game.build()?;
    Ok((0..env.spec().n_agents())
        .map(|i| env.is_adversary(i))
        .collect())
}

impl Sides {
    /// The mean over the good agents and over the adversaries (`adversary[i]`) of per-agent
    /// `values`.
    pub fn of(adversary: &[bool], values: &[f64]) -> Self {
        let mean = |adv: bool| {
            let v: Vec<f64> = (0..values.len())
                .filter(|&i| adversary.get(i).copied().unwrap_or(false) == adv)
                .map(|i| values[i])
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        Sides {
            good: mean(false),
            adversaries: mean(true),
        }
    }
}

/// Each episode's mean return of the good agents and of the adversaries when `agents` play
/// the good side and `adversaries` the adversaries (one policy per agent in each; the other
/// side's are unused), over `episodes` episodes of `seed`: `(good, adversaries)`.
pub fn match_episodes(
    game: &GameChoice,
    agents: &[&dyn Policy],
    adversaries: &[&dyn Policy],
    episodes: usize,
    seed: u64,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mixed, flags) = mixed(game, agents, adversaries)?;
    let set = play(game, Who::Learned(&mixed), episodes, seed)?;
    Ok(set
        .episodes
        .iter()
        .map(|e| {
            let s = Sides::of(&flags, &e.returns());
            (s.good, s.adversaries)
        })
        .unzip())
}

/// The mean return of the good (non-adversary) agents when `agents` play the good side and
/// `adversaries` the adversaries (one policy per agent in each; the other side's are unused),
/// over `episodes` episodes of `seed`: the competitive tables' "agent's reward".
pub fn match_return(
    game: &GameChoice,
    agents: &[&dyn Policy],
    adversaries: &[&dyn Policy],
    episodes: usize,
    seed: u64,
) -> Result<f64> {
    let (mixed, flags) = mixed(game, agents, adversaries)?;
    let (per_agent, _) = return_stats(&play(game, Who::Learned(&mixed), episodes, seed)?);
    let good: Vec<f64> = (0..flags.len())
        .filter(|&i| !flags[i])
        .map(|i| per_agent[i].0)
        .collect();
    Ok(good.iter().sum::<f64>() / good.len().max(1) as f64)
}

/// The policies of a match: `adversaries[i]` where agent i of `game` is an adversary,
/// `agents[i]` elsewhere; with the adversary flags.
fn mixed<'a>(
    game: &GameChoice,
    agents: &[&'a dyn Policy],
    adversaries: &[&'a dyn Policy],
) -> Result<(Vec<&'a dyn Policy>, Vec<bool>)> {
    let flags = adversaries_of(game)?;
    let mixed = (0..flags.len())
        .map(|i| if flags[i] { adversaries[i] } else { agents[i] })
        .collect();
    Ok((mixed, flags))
}

/// Records `episodes` demonstration episodes (seed `seed`): of the expert checkpoint
/// `Demonstrator::Expert(path)` in its own game or in `env` (a game with the same agents,
/// `variant` defaulting to `paper`), or of the scripted reference (`Demonstrator::Scripted`,
/// which needs `env`).
/// Returns them with the agent names. `cargo xtask demos` and the Python package's
/// `record_demos` both record through here, so the same arguments give the same episodes.
pub fn record_demos(
    expert: &crate::Demonstrator,
    env: Option<&str>,
    variant: Option<envs::Variant>,
    episodes: usize,
    seed: u64,
    greedy: bool,
) -> Result<(Trajectories, Vec<String>)> {
    use crate::error::ExperimentError;
    crate::error::at_least_one("episodes", episodes)?;
    let path = match expert {
        crate::Demonstrator::Expert(path) => Some(path),
        crate::Demonstrator::Scripted => None,
    };
    let (game, set) = if let Some(path) = path {
        let (meta, learners) = crate::load_checkpoint(path)?;
        let game = crate::game_for(&meta, env, variant)?;
        let pols = learners.policies(greedy).map_err(|e| {
            ExperimentError::Setup(format!(
                "the policies of {} cannot be built: {e}",
                path.display()
            ))
        })?;
        let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
        let set = play(&game, Who::Learned(&refs), episodes, seed)?;
        (game, set)
    } else {
        let Some(env) = env else {
            return Err(ExperimentError::Settings {
                field: "env",
                reason: "the scripted reference needs the game to play".into(),
            });
        };
        let game = GameChoice::new(env, variant.unwrap_or(envs::Variant::Paper));
        let set = play(&game, Who::Scripted, episodes, seed)?;
        (game, set)
    };
    let (built, _) = game.build()?;
    let names = built.spec().agents.iter().map(|a| a.name.clone()).collect();
    Ok((set, names))
}
