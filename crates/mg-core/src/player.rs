//! Player functions Y(i | h_{t-1}): the chance that agent `i` acts given the participation history.
//!
//! Four rules cover the AMAGAIL paper: [`Synchronous`] (Y = 1, plain Markov games),
//! [`Schedule`] (deterministic, Y ∈ {0, 1}: a repeating cycle or round-robin turns),
//! [`Stochastic`] (independent per-agent probabilities) and [`Rounds`] (a repeating cycle of
//! per-agent probabilities, e.g. one side acting, then each agent of the other side by chance).
//! Users may implement [`PlayerFunction`] for any other history-dependent rule.

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::{GameError, History, MAX_AGENTS, Participation};

/// A uniform draw in [0, 1) from 53 random bits.
fn unit_f64(rng: &mut dyn RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The player function of an extensive Markov game.
pub trait PlayerFunction: Send + Sync {
    /// Number of agents it decides for.
    fn n_agents(&self) -> usize;

    /// Y(i | h_{t-1}), the probability that agent `i` acts at step t = `history.len()`.
    /// With an empty history this is the initial participation ζ(i).
    fn prob(&self, agent: usize, history: &History) -> f64;

    /// A short description for data files (`synchronous`, `schedule[7,3,1]`, `stochastic[0.5,…]`),
    /// so demonstrations record who could act, not only the Markov game.
    fn describe(&self) -> String {
        "custom".into()
    }

    /// Pr(I_t = `p` | h_{t-1}) = Π_{active} Y · Π_{inactive} (1 − Y).
    fn prob_of(&self, p: Participation, history: &History) -> f64 {
        (0..self.n_agents())
            .map(|i| {
                let y = self.prob(i, history);
                if p.is_active(i) { y } else { 1.0 - y }
            })
            .product()
    }

    /// Samples I_t given the history, agent by agent. A draw is taken from `rng` only for agents
    /// whose Y lies strictly between 0 and 1, so deterministic rules consume no randomness and a
    /// synchronous game stays bit-identical to the bare Markov game.
    fn sample(&self, history: &History, rng: &mut dyn RngCore) -> Participation {
        let n = self.n_agents();
        let mut p = Participation::none(n);
        for i in 0..n {
            let y = self.prob(i, history);
            let active = if y >= 1.0 {
                true
            } else if y <= 0.0 {
                false
            } else {
                unit_f64(rng) < y
            };
            p.set(i, active);
        }
        p
    }
}

fn check_n(n: usize) -> Result<(), GameError> {
    if n == 0 || n > MAX_AGENTS {
        return Err(GameError::TooManyAgents { n, max: MAX_AGENTS });
    }
    Ok(())
}

/// Every agent acts at every step (Y ≡ 1): the rule of ordinary Markov games.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SynchronousFields")]
pub struct Synchronous {
    n: usize,
}

// Loading goes through the constructors' checks: a config file is user input.
#[derive(Deserialize)]
struct SynchronousFields {
    n: usize,
}

impl TryFrom<SynchronousFields> for Synchronous {
    type Error = GameError;
    fn try_from(f: SynchronousFields) -> Result<Self, GameError> {
        Self::new(f.n)
    }
}

impl Synchronous {
    /// For `n` agents (1 to 64).
    pub fn new(n: usize) -> Result<Self, GameError> {
        check_n(n)?;
        Ok(Self { n })
    }
}

impl PlayerFunction for Synchronous {
    fn n_agents(&self) -> usize {
        self.n
    }
    fn describe(&self) -> String {
        "synchronous".into()
    }
    fn prob(&self, _agent: usize, _history: &History) -> f64 {
        1.0
    }
    fn sample(&self, _history: &History, _rng: &mut dyn RngCore) -> Participation {
        Participation::all(self.n)
    }
}

/// The player function of a game that decides who acts itself ([`MarkovGame::turn`]: a
/// turn-based game, or one whose agents leave): as far as the rule knows every agent may act,
/// and the game's answer replaces the rule's at every step.
///
/// [`MarkovGame::turn`]: crate::MarkovGame::turn
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SynchronousFields")]
pub struct GameTurns {
    n: usize,
}

impl TryFrom<SynchronousFields> for GameTurns {
    type Error = GameError;
    fn try_from(f: SynchronousFields) -> Result<Self, GameError> {
        Self::new(f.n)
    }
}

impl GameTurns {
    /// For `n` agents (1 to 64).
    pub fn new(n: usize) -> Result<Self, GameError> {
        check_n(n)?;
        Ok(Self { n })
    }
}

impl PlayerFunction for GameTurns {
    fn n_agents(&self) -> usize {
        self.n
    }
    fn describe(&self) -> String {
        "game-turns".into()
    }
    fn prob(&self, _agent: usize, _history: &History) -> f64 {
        1.0
    }
    fn sample(&self, _history: &History, _rng: &mut dyn RngCore) -> Participation {
        Participation::all(self.n)
    }
}

/// A deterministic repeating cycle of participation vectors: step t uses `cycle[t mod len]`.
///
/// AMAGAIL's deterministic games use the cycle {1,2,3} → {1,2} → {1}; round-robin turn order
/// is the cycle {1} → {2} → ... → {n}.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleFields")]
pub struct Schedule {
    n: usize,
    cycle: Vec<Participation>,
}

#[derive(Deserialize)]
struct ScheduleFields {
    n: usize,
    cycle: Vec<Participation>,
}

impl TryFrom<ScheduleFields> for Schedule {
    type Error = GameError;
    fn try_from(f: ScheduleFields) -> Result<Self, GameError> {
        Self::from_cycle(f.n, f.cycle)
    }
}

impl Schedule {
    /// A cycle given as lists of acting agents (0-based) per step.
    pub fn new(n: usize, cycle: &[Vec<usize>]) -> Result<Self, GameError> {
        check_n(n)?;
        let cycle = cycle
            .iter()
            .map(|step| Participation::from_active(n, step))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_cycle(n, cycle)
    }

    /// A cycle of participation vectors, each for `n` agents, at least one.
    pub fn from_cycle(n: usize, cycle: Vec<Participation>) -> Result<Self, GameError> {
        check_n(n)?;
        if cycle.is_empty() {
            return Err(GameError::EmptySchedule);
        }
        if let Some(p) = cycle.iter().find(|p| p.n_agents() != n) {
            return Err(GameError::AgentCountMismatch {
                what: "schedule step",
                expected: n,
                got: p.n_agents(),
            });
        }
        Ok(Self { n, cycle })
    }

    /// Round-robin turns: agent 0, then 1, ..., then n−1, repeating.
    pub fn round_robin(n: usize) -> Result<Self, GameError> {
        let turns: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
        Self::new(n, &turns)
    }

    /// AMAGAIL's 3-step cycle for 3 agents: all act, then agents 0 and 1, then agent 0 alone.
    pub fn amagail_cycle() -> Self {
        Self {
            n: 3,
            cycle: [0b111u64, 0b011, 0b001]
                .iter()
                .map(|&b| Participation::from_bits(3, b).expect("3-agent bits"))
                .collect(),
        }
    }

    /// The cycle's participation vectors.
    pub fn cycle(&self) -> &[Participation] {
        &self.cycle
    }

    /// The participation vector at step `t`.
    pub fn at(&self, t: usize) -> Participation {
        self.cycle[t % self.cycle.len()]
    }
}

impl PlayerFunction for Schedule {
    fn n_agents(&self) -> usize {
        self.n
    }
    fn describe(&self) -> String {
        let steps: Vec<String> = self.cycle.iter().map(|p| p.bits().to_string()).collect();
        format!("schedule[{}]", steps.join(","))
    }
    fn prob(&self, agent: usize, history: &History) -> f64 {
        if self.at(history.len()).is_active(agent) {
            1.0
        } else {
            0.0
        }
    }
    fn sample(&self, history: &History, _rng: &mut dyn RngCore) -> Participation {
        self.at(history.len())
    }
}

/// Each agent acts independently with its own fixed probability at every step
/// (probability 1 makes an agent always active, as the prey in stochastic predator-prey).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StochasticFields")]
pub struct Stochastic {
    probs: Vec<f64>,
}

#[derive(Deserialize)]
struct StochasticFields {
    probs: Vec<f64>,
}

impl TryFrom<StochasticFields> for Stochastic {
    type Error = GameError;
    fn try_from(f: StochasticFields) -> Result<Self, GameError> {
        Self::new(f.probs)
    }
}

impl Stochastic {
    /// One probability per agent, each in [0, 1].
    pub fn new(probs: Vec<f64>) -> Result<Self, GameError> {
        check_n(probs.len())?;
        for (agent, &p) in probs.iter().enumerate() {
            if !(0.0..=1.0).contains(&p) {
                return Err(GameError::InvalidProbability { agent, value: p });
            }
        }
        Ok(Self { probs })
    }

    /// The per-agent probabilities.
    pub fn probs(&self) -> &[f64] {
        &self.probs
    }
}

impl PlayerFunction for Stochastic {
    fn n_agents(&self) -> usize {
        self.probs.len()
    }
    fn describe(&self) -> String {
        let p: Vec<String> = self.probs.iter().map(|p| p.to_string()).collect();
        format!("stochastic[{}]", p.join(","))
    }
    fn prob(&self, agent: usize, _history: &History) -> f64 {
        self.probs[agent]
    }
}

/// A repeating cycle of per-agent probabilities: at step t, agent i acts independently with
/// probability `rounds[t mod len][i]`. It holds [`Schedule`] (entries 0 and 1) and
/// [`Stochastic`] (one round) as special cases, and turns where chance decides within a turn:
/// `[[0, 0, 0, 1], [0.5, 0.5, 0.5, 0]]` lets the last agent act, then each of the others with
/// probability one half.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RoundsFields")]
pub struct Rounds {
    rounds: Vec<Vec<f64>>,
}

#[derive(Deserialize)]
struct RoundsFields {
    rounds: Vec<Vec<f64>>,
}

impl TryFrom<RoundsFields> for Rounds {
    type Error = GameError;
    fn try_from(f: RoundsFields) -> Result<Self, GameError> {
        Self::new(f.rounds)
    }
}

impl Rounds {
    /// At least one round, each with one probability in [0, 1] per agent, all of one length.
    pub fn new(rounds: Vec<Vec<f64>>) -> Result<Self, GameError> {
        let Some(first) = rounds.first() else {
            return Err(GameError::EmptySchedule);
        };
        let n = first.len();
        check_n(n)?;
        for round in &rounds {
            if round.len() != n {
                return Err(GameError::AgentCountMismatch {
                    what: "round of probabilities",
                    expected: n,
                    got: round.len(),
                });
            }
            for (agent, &p) in round.iter().enumerate() {
                if !(0.0..=1.0).contains(&p) {
                    return Err(GameError::InvalidProbability { agent, value: p });
                }
            }
        }
        Ok(Self { rounds })
    }

    /// The rounds.
    pub fn rounds(&self) -> &[Vec<f64>] {
        &self.rounds
    }
}

impl PlayerFunction for Rounds {
    fn n_agents(&self) -> usize {
        self.rounds[0].len()
    }
    fn describe(&self) -> String {
        let r: Vec<String> = self
            .rounds
            .iter()
            .map(|round| {
                let p: Vec<String> = round.iter().map(|p| p.to_string()).collect();
                format!("[{}]", p.join(","))
            })
            .collect();
        format!("rounds[{}]", r.join(","))
    }
    fn prob(&self, agent: usize, history: &History) -> f64 {
        self.rounds[history.len() % self.rounds.len()][agent]
    }
}

/// A serializable choice among the built-in rules, for configs and data files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PlayerRule {
    /// Y ≡ 1.
    Synchronous(Synchronous),
    /// A deterministic cycle.
    Schedule(Schedule),
    /// Independent per-agent probabilities.
    Stochastic(Stochastic),
    /// A cycle of per-agent probabilities.
    Rounds(Rounds),
}

impl PlayerFunction for PlayerRule {
    fn describe(&self) -> String {
        match self {
            PlayerRule::Synchronous(r) => r.describe(),
            PlayerRule::Schedule(r) => r.describe(),
            PlayerRule::Stochastic(r) => r.describe(),
            PlayerRule::Rounds(r) => r.describe(),
        }
    }
    fn n_agents(&self) -> usize {
        match self {
            PlayerRule::Synchronous(r) => r.n_agents(),
            PlayerRule::Schedule(r) => r.n_agents(),
            PlayerRule::Stochastic(r) => r.n_agents(),
            PlayerRule::Rounds(r) => r.n_agents(),
        }
    }
    fn prob(&self, agent: usize, history: &History) -> f64 {
        match self {
            PlayerRule::Synchronous(r) => r.prob(agent, history),
            PlayerRule::Schedule(r) => r.prob(agent, history),
            PlayerRule::Stochastic(r) => r.prob(agent, history),
            PlayerRule::Rounds(r) => r.prob(agent, history),
        }
    }
    fn sample(&self, history: &History, rng: &mut dyn RngCore) -> Participation {
        match self {
            PlayerRule::Synchronous(r) => r.sample(history, rng),
            PlayerRule::Schedule(r) => r.sample(history, rng),
            PlayerRule::Stochastic(r) => r.sample(history, rng),
            PlayerRule::Rounds(r) => r.sample(history, rng),
        }
    }
}
