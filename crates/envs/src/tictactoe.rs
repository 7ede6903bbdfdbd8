//! Tic-tac-toe: a classic alternating-move game where turn-taking is the game itself, with an
//! exact minimax expert — a test bed with a known optimum for asynchronous imitation.
//!
//! Played as an extensive game with the round-robin player function (`Schedule::round_robin(2)`):
//! agent 0 (X) moves at even steps, agent 1 (O) at odd steps. Each agent observes the board from
//! its own side (+1 own mark, −1 the opponent's, 0 empty) and a flag that says whether it is to
//! move. An illegal move (an occupied cell) loses at once. Rewards: +1 for the winner, −1 for the
//! loser, 0 for a draw; the agent that did not move at the final step has its reward masked, as
//! AMAGAIL prescribes for inactive agents (it still sees the outcome in the next episode's data).

use mg_core::{ActionSpace, AgentSpec, GameError, GameSpec, MarkovGame, Participation, StepStatus};
use rand::RngCore;

const LINES: [[usize; 3]; 8] = [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7, 8],
    [0, 3, 6],
    [1, 4, 7],
    [2, 5, 8],
    [0, 4, 8],
    [2, 4, 6],
];

/// The winner's mark (+1 or −1) if a line is complete.
pub fn winner(board: &[i8; 9]) -> Option<i8> {
    LINES.iter().find_map(|l| {
        let s = board[l[0]];
        (s != 0 && s == board[l[1]] && s == board[l[2]]).then_some(s)
    })
}

/// The game state.
#[derive(Clone, Debug)]
pub struct TicTacToe {
    spec: GameSpec,
    /// Cells 0..9 row by row: +1 X (agent 0), −1 O (agent 1), 0 empty.
    board: [i8; 9],
    moves: usize,
    over: bool,
}

impl Default for TicTacToe {
    fn default() -> Self {
        Self::new()
    }
}

impl TicTacToe {
    /// An empty board, X to move.
    pub fn new() -> Self {
        let agent = |name: &str| AgentSpec {
            name: name.into(),
            obs_dim: 10,
            action_space: ActionSpace::Discrete { n: 9 },
            action_mask: false,
        };
        Self {
            spec: GameSpec {
                name: "tictactoe".into(),
                agents: vec![agent("x"), agent("o")],
                max_steps: Some(9),
            },
            board: [0; 9],
            moves: 0,
            over: false,
        }
    }

    /// The board (+1 X, −1 O).
    pub fn board(&self) -> &[i8; 9] {
        &self.board
    }

    /// The agent to move.
    pub fn to_move(&self) -> usize {
        self.moves % 2
    }
}

impl MarkovGame for TicTacToe {
    fn spec(&self) -> &GameSpec {
        &self.spec
    }

    fn reset(&mut self, _rng: &mut dyn RngCore) {
        self.board = [0; 9];
        self.moves = 0;
        self.over = false;
    }

    fn observe(&self, agent: usize, out: &mut [f32]) {
        let me: i8 = if agent == 0 { 1 } else { -1 };
        for (o, &c) in out.iter_mut().zip(&self.board) {
            *o = f32::from(c * me);
        }
        out[9] = if !self.over && self.to_move() == agent {
            1.0
        } else {
            0.0
        };
    }

    fn step(&mut self, _actions: &[f32], _rewards: &mut [f64]) -> Result<StepStatus, GameError> {
        Err(GameError::Other(
            "tic-tac-toe is played in turns: step it through an extensive game with the round-robin player function".into(),
        ))
    }

    fn step_partial(
        &mut self,
        actions: &[f32],
        active: Participation,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        if self.over {
            return Err(GameError::EpisodeOver);
        }
        if rewards.len() != 2 {
            return Err(GameError::BufferSize {
                what: "rewards",
                expected: 2,
                got: rewards.len(),
            });
        }
        let mover = self.to_move();
        if active.n_agents() != 2 || active.count() != 1 || !active.is_active(mover) {
            return Err(GameError::Other(format!(
                "tic-tac-toe: agent {mover} is to move, but the participation vector is {:?}",
                active.to_flags()
            )));
        }
        self.spec.check_joint_action(actions, Some(active))?;
        let cell = actions[mover] as usize;
        let mark: i8 = if mover == 0 { 1 } else { -1 };
        rewards.fill(0.0);
        self.moves += 1;
        if self.board[cell] != 0 {
            // An illegal move forfeits the game.
            rewards[mover] = -1.0;
            rewards[1 - mover] = 1.0;
            self.over = true;
            return Ok(StepStatus {
                terminated: true,
                truncated: false,
            });
        }
        self.board[cell] = mark;
        if winner(&self.board).is_some() {
            rewards[mover] = 1.0;
            rewards[1 - mover] = -1.0;
            self.over = true;
        } else if self.moves == 9 {
            self.over = true;
        }
        Ok(StepStatus {
            terminated: self.over,
            truncated: false,
        })
    }
}

/// The exact minimax (negamax) player, with a memo over every reachable position.
#[derive(Clone, Debug)]
pub struct Minimax {
    /// Value for the player to move, indexed by the base-3 code of the board seen from its side.
    memo: Vec<i8>,
}

impl Default for Minimax {
    fn default() -> Self {
        Self::new()
    }
}

fn code(board: &[i8; 9]) -> usize {
    board
        .iter()
        .fold(0usize, |acc, &c| acc * 3 + (c + 1) as usize)
}

impl Minimax {
    /// Solves the game (about 5,500 positions; instant).
    pub fn new() -> Self {
        let mut m = Self {
            memo: vec![i8::MIN; 19_683],
        };
        m.value(&mut [0; 9]);
        m
    }

    /// Value of `board` (from the side of the player to move, whose marks are +1):
    /// +1 win, 0 draw, −1 loss under perfect play.
    fn value(&mut self, board: &mut [i8; 9]) -> i8 {
        let c = code(board);
        if self.memo[c] != i8::MIN {
            return self.memo[c];
        }
        let v = if winner(board).is_some() {
            // The previous mover (the opponent) just completed a line.
            -1
        } else if board.iter().all(|&x| x != 0) {
            0
        } else {
            let mut best = -2;
            for i in 0..9 {
                if board[i] == 0 {
                    board[i] = 1;
                    let mut flipped = board.map(|x| -x);
                    let v = -self.value(&mut flipped);
                    board[i] = 0;
                    best = best.max(v);
                }
            }
            best
        };
        self.memo[c] = v;
        v
    }

    /// The best move for the player whose marks are +1 on `board` (lowest cell among equals).
    pub fn best_move(&mut self, board: &[i8; 9]) -> Option<usize> {
        let mut b = *board;
        let mut best: Option<(usize, i8)> = None;
        for i in 0..9 {
            if b[i] == 0 {
                b[i] = 1;
                let mut flipped = b.map(|x| -x);
                let v = -self.value(&mut flipped);
                b[i] = 0;
                if best.is_none_or(|(_, bv)| v > bv) {
                    best = Some((i, v));
                }
            }
        }
        best.map(|(i, _)| i)
    }

    /// Acts from an observation of [`TicTacToe`] (the board from the agent's side).
    pub fn act(&mut self, obs: &[f32]) -> usize {
        let mut board = [0i8; 9];
        for (b, &o) in board.iter_mut().zip(obs) {
            *b = o as i8;
        }
        self.best_move(&board).unwrap_or(0)
    }

    /// Value of the empty board for the first player (0: tic-tac-toe is a draw).
    pub fn root_value(&mut self) -> i8 {
        self.value(&mut [0; 9])
    }
}
