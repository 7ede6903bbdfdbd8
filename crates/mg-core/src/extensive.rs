//! Extensive Markov games: a Markov game plus a player function deciding who acts at each step.

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::{
    GameError, GameSpec, History, MarkovGame, Participation, PlayerFunction, RngState, StepStatus,
    StreamRng,
};

/// The participation draws of one episode come from a stream of their own, seeded by one draw
/// of the caller's random stream the first time the player function asks for randomness (in
/// `reset`, right after the game's own reset draws). The caller's stream is then used only by
/// resets, so episode k meets the same start and the same participation sequence whatever the
/// policies do (an episode that ends early does not shift the next one's draws); rules that
/// draw nothing (synchronous, schedules) consume nothing, as before.
struct Participations<'a> {
    stream: &'a mut Option<StreamRng>,
    episode: &'a mut dyn RngCore,
}

impl Participations<'_> {
    fn rng(&mut self) -> &mut StreamRng {
        let episode = &mut *self.episode;
        self.stream.get_or_insert_with(|| {
            use rand::SeedableRng;
            StreamRng::seed_from_u64(episode.next_u64())
        })
    }
}

impl RngCore for Participations<'_> {
    fn next_u32(&mut self) -> u32 {
        self.rng().next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.rng().next_u64()
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.rng().fill_bytes(dst)
    }
}

/// One agent's move at a step of an extensive game: a real action, or φ ("did not act").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AgentAction {
    /// The agent acted with this (flat) action.
    Act(Vec<f32>),
    /// The agent did not act at this step: the placeholder action φ.
    Phi,
}

/// The result of one extensive-game step in owned form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmgStep {
    /// Each agent's observation after the step.
    pub obs: Vec<Vec<f32>>,
    /// The move each agent made: φ for those that did not act or chose φ.
    pub actions: Vec<AgentAction>,
    /// Each agent's reward: `None` for an agent that did not act (it gets no reward).
    pub rewards: Vec<Option<f64>>,
    /// I_t: which agents acted.
    pub acted: Participation,
    /// How the step ended the episode.
    pub status: StepStatus,
}

/// An extensive Markov game made from any Markov game `G` and a player function `P`.
///
/// Before each step the participation vector I_t is already drawn (see
/// [`participation`](Self::participation)), so that only the acting agents' policies need to be
/// asked. Inactive agents play φ; what φ does to the state is the game's business
/// ([`MarkovGame::step_partial`]). Their reward slots are zeroed *and* masked: callers must read
/// the returned participation, never the zero.
#[derive(Clone, Debug)]
pub struct ExtensiveGame<G, P> {
    game: G,
    player: P,
    history: History,
    current: Participation,
    /// The agents of `current` that chose φ for the coming step.
    chose_phi: Participation,
    /// This episode's participation stream, once the player function has drawn from it.
    participation_rng: Option<StreamRng>,
}

impl<G: MarkovGame, P: PlayerFunction> ExtensiveGame<G, P> {
    /// Combines a game and a player function; their agent counts must agree.
    pub fn new(game: G, player: P) -> Result<Self, GameError> {
        let n = game.spec().n_agents();
        if n == 0 || n > crate::MAX_AGENTS {
            return Err(GameError::TooManyAgents {
                n,
                max: crate::MAX_AGENTS,
            });
        }
        if player.n_agents() != n {
            return Err(GameError::AgentCountMismatch {
                what: "player function",
                expected: n,
                got: player.n_agents(),
            });
        }
        Ok(Self {
            game,
            player,
            history: History::new(),
            current: Participation::all(n),
            chose_phi: Participation::none(n),
            participation_rng: None,
        })
    }

    /// The state of the episode in progress (the game's, the history, I_t, the agents that
    /// chose φ and the participation stream), or `None` when the game saves no state
    /// ([`MarkovGame::save_state`]).
    pub fn save_state(&self) -> Option<Vec<u8>> {
        let game = self.game.save_state()?;
        let stream = self.participation_rng.as_ref().map(RngState::of);
        crate::encode_state(&(game, &self.history, self.current, self.chose_phi, stream)).ok()
    }

    /// Takes a state saved by [`save_state`](Self::save_state) of a game built the same way.
    /// Nothing changes when it is refused.
    pub fn load_state(&mut self, state: &[u8]) -> Result<(), GameError> {
        type Saved = (
            Vec<u8>,
            History,
            Participation,
            Participation,
            Option<RngState>,
        );
        type SavedBefore = (Vec<u8>, History, Participation, Participation);
        // States saved before participation had its own stream hold no stream: the episode's
        // next draw seeds one (for rules that never draw, nothing changes).
        let (game, history, current, chose_phi, stream): Saved = match crate::decode_state(state) {
            Ok(s) => s,
            Err(e) => match crate::decode_state::<SavedBefore>(state) {
                Ok((g, h, c, p)) => (g, h, c, p, None),
                Err(_) => return Err(e),
            },
        };
        let n = self.spec().n_agents();
        if current.n_agents() != n || chose_phi.n_agents() != n {
            return Err(GameError::State(format!(
                "the saved participation has {} agents, the game {n}",
                current.n_agents()
            )));
        }
        self.game.load_state(&game)?;
        self.history = history;
        self.current = current;
        self.chose_phi = chose_phi;
        self.participation_rng = stream.as_ref().map(RngState::rng);
        Ok(())
    }

    /// The underlying Markov game.
    pub fn game(&self) -> &G {
        &self.game
    }

    /// The player function.
    pub fn player(&self) -> &P {
        &self.player
    }

    /// The game's spec.
    pub fn spec(&self) -> &GameSpec {
        self.game.spec()
    }

    /// I_t, the agents that act at the coming step.
    pub fn participation(&self) -> Participation {
        self.current
    }

    /// h_{t-1}, the participation vectors of the steps taken so far in this episode.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Agent `i`, allowed to act at the coming step, chooses φ as its action, as a learner that
    /// treats φ as an ordinary action may (the baselines of the AMAGAIL paper). The game moves
    /// it as it moves an agent that does not act, but it stays in the round: the player function
    /// let it act, so it gets its reward and the history records it as acting. (Were it left
    /// out of the round instead, choosing φ would dodge every negative reward.) An agent that
    /// may not act, or an index out of range, is refused.
    pub fn choose_phi(&mut self, i: usize) -> Result<(), GameError> {
        let n = self.spec().n_agents();
        if i >= n {
            return Err(GameError::AgentOutOfRange { agent: i, n });
        }
        if !self.current.is_active(i) {
            return Err(GameError::Other(format!(
                "agent {i} chose φ at a step where it does not act"
            )));
        }
        self.chose_phi.set(i, true);
        Ok(())
    }

    /// Draws the coming step's participation from the episode's stream (`rng` seeds it if
    /// nothing has yet), unless the game decides who acts ([`MarkovGame::turn`]).
    fn draw_participation(&mut self, rng: &mut dyn RngCore) {
        if let Some(turn) = self.game.turn() {
            self.current = turn;
            return;
        }
        let mut draws = Participations {
            stream: &mut self.participation_rng,
            episode: rng,
        };
        self.current = self.player.sample(&self.history, &mut draws);
    }

    /// Starts an episode: resets the game from `rng`, clears the history and draws I_0 ~ ζ
    /// (from the episode's participation stream, seeded from `rng` if the rule draws at all).
    pub fn reset(&mut self, rng: &mut dyn RngCore) {
        self.game.reset(rng);
        self.history.clear();
        self.chose_phi = Participation::none(self.current.n_agents());
        self.participation_rng = None;
        self.draw_participation(rng);
    }

    /// Applies the actions of the acting agents (other entries are ignored), writes rewards
    /// (zero for inactive agents, whose mask is the returned participation), records I_t in the
    /// history and draws I_{t+1} from the episode's participation stream (`rng` seeds it if
    /// nothing has yet). Returns the status and I_t.
    pub fn step(
        &mut self,
        actions: &[f32],
        rng: &mut dyn RngCore,
        rewards: &mut [f64],
    ) -> Result<(StepStatus, Participation), GameError> {
        let active = self.current;
        // Who moves: the acting agents, less those that chose φ.
        let moving =
            Participation::from_bits(active.n_agents(), active.bits() & !self.chose_phi.bits())?;
        let status = if moving.is_all() {
            self.game.step(actions, rewards)?
        } else {
            self.game.step_partial(actions, moving, rewards)?
        };
        // Only a step that happened uses up the choices of φ: after an error, a retry of the
        // same step keeps them.
        self.chose_phi = Participation::none(active.n_agents());
        for (i, r) in rewards.iter_mut().enumerate() {
            if !active.is_active(i) {
                *r = 0.0;
            }
        }
        self.history.push(active);
        self.draw_participation(rng);
        Ok((status, active))
    }

    /// Resets and returns every agent's observation (allocates).
    pub fn reset_joint(&mut self, rng: &mut dyn RngCore) -> Vec<Vec<f32>> {
        self.reset(rng);
        self.game.observe_all()
    }

    /// Steps and returns the result in owned form, with φ and masked rewards made explicit.
    pub fn step_joint(
        &mut self,
        actions: &[f32],
        rng: &mut dyn RngCore,
    ) -> Result<EmgStep, GameError> {
        let n = self.spec().n_agents();
        let offsets = self.spec().action_offsets();
        if actions.len() != offsets[n] {
            return Err(GameError::JointActionLength {
                expected: offsets[n],
                got: actions.len(),
            });
        }
        let mut raw = vec![0.0; n];
        let chose = self.chose_phi;
        let (status, acted) = self.step(actions, rng, &mut raw)?;
        let actions = (0..n)
            .map(|i| {
                if acted.is_active(i) && !chose.is_active(i) {
                    AgentAction::Act(actions[offsets[i]..offsets[i + 1]].to_vec())
                } else {
                    AgentAction::Phi
                }
            })
            .collect();
        let rewards = (0..n)
            .map(|i| acted.is_active(i).then_some(raw[i]))
            .collect();
        Ok(EmgStep {
            obs: self.game.observe_all(),
            actions,
            rewards,
            acted,
            status,
        })
    }
}
