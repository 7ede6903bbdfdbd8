"""Peer for `cargo xtask bench iteration --peers`: one centralized-MAGAIL iteration in PyTorch with
the shapes of the Rust bench (crates/magail-async/benches/iteration.rs), the paper-shape generator:

- rollout: 41 copies of mpe2's simple_spread (N = 3, 25-step episodes, reset as they end) x 50
  steps, one 18 -> 64 -> 64 -> 5 ReLU policy shared by the three agents, sampling actions;
- discriminator: one joint 72 -> 128 -> 128 -> 3 ReLU network (each agent's observation and
  one-hot action with a phi slot), ten full-batch Adam steps (lr 3e-4) on the 2,050 policy rows
  and 2,050 expert rows, binary cross-entropy with logits; then log D rewards on every row;
- TRPO: GAE (0.99, 0.95) per agent, normalized advantages, the surrogate's gradient, 10
  conjugate-gradient iterations of Fisher-vector products (damping 0.1) on every 4th sample,
  a backtracking line search (up to 10 steps, x0.8) at max KL 0.002;
- critic: a centralized 72 -> 64 -> 64 -> 1 ReLU value network (own observation and every
  agent's), Adam (lr 1e-3), 3 epochs of 4 minibatches of the 6,150 agent-steps.

Prints `peer pytorch magail_c/w<t> <ms> ms` (median of 7 iterations after 2 warm-ups) with 1 and 2
PyTorch threads, the parts of the 1-thread run, and `peer pytorch disc10 <ms> ms` (the ten
discriminator steps alone)."""

import statistics
import time

import numpy as np
import torch
from torch import nn
from mpe2 import simple_spread_v3

N_AGENTS, OBS, ACTS = 3, 18, 5
COPIES, STEPS = 41, 50
DISC_IN = N_AGENTS * (OBS + ACTS + 1)
VF_IN = OBS + N_AGENTS * OBS


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Peer:
    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.pi = mlp([OBS, 64, 64, ACTS])
        self.vf = mlp([VF_IN, 64, 64, 1])
        self.disc = mlp([DISC_IN, 128, 128, N_AGENTS])
        self.vf_opt = torch.optim.Adam(self.vf.parameters(), lr=1e-3)
        self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=3e-4)
        self.envs = [simple_spread_v3.parallel_env(N=3, max_cycles=25) for _ in range(COPIES)]
        self.obs = [e.reset(seed=seed + k)[0] for k, e in enumerate(self.envs)]
        self.agents = self.envs[0].possible_agents
        self.expert = torch.from_numpy(self.rng.uniform(-1, 1, (COPIES * STEPS, DISC_IN)).astype(np.float32))

    def rollout(self):
        obs = np.zeros((STEPS, COPIES, N_AGENTS, OBS), np.float32)
        act = np.zeros((STEPS, COPIES, N_AGENTS), np.int64)
        done = np.zeros((STEPS, COPIES), np.float32)
        for t in range(STEPS):
            o = np.stack([[self.obs[k][a] for a in self.agents] for k in range(COPIES)])
            obs[t] = o
            with torch.no_grad():
                logits = self.pi(torch.from_numpy(o.reshape(-1, OBS)))
                a = torch.distributions.Categorical(logits=logits).sample().numpy()
            act[t] = a.reshape(COPIES, N_AGENTS)
            for k, e in enumerate(self.envs):
                nxt, _, term, trunc, _ = e.step({ag: int(act[t, k, i]) for i, ag in enumerate(self.agents)})
                if any(term.values()) or any(trunc.values()):
                    done[t, k] = 1.0
                    nxt = e.reset()[0]
                self.obs[k] = nxt
        return obs, act, done

    def disc_inputs(self, obs, act):
        onehot = np.zeros(obs.shape[:3] + (ACTS + 1,), np.float32)
        np.put_along_axis(onehot, act[..., None], 1.0, axis=-1)
        x = np.concatenate([obs, onehot], axis=-1).reshape(STEPS * COPIES, DISC_IN)
        return torch.from_numpy(x)

    def disc_steps(self, pol):
        exp = self.expert[torch.from_numpy(self.rng.integers(0, len(self.expert), len(pol)))]
        x = torch.cat([exp, pol])
        y = torch.cat([torch.ones(len(exp), N_AGENTS), torch.zeros(len(pol), N_AGENTS)])
        for _ in range(10):
            loss = nn.functional.binary_cross_entropy_with_logits(self.disc(x), y)
            self.disc_opt.zero_grad()
            loss.backward()
            self.disc_opt.step()

    def trpo(self, obs, act, rew, done):
        # Per agent-step rows, ordered (agent, copy, step).
        o = torch.from_numpy(obs.transpose(2, 1, 0, 3).reshape(-1, OBS))
        a = torch.from_numpy(act.transpose(2, 1, 0).reshape(-1))
        joint = obs.reshape(STEPS, COPIES, N_AGENTS * OBS)
        vin = np.concatenate(
            [obs, np.broadcast_to(joint[:, :, None, :], (STEPS, COPIES, N_AGENTS, N_AGENTS * OBS))], axis=-1
        )
        vin = torch.from_numpy(np.ascontiguousarray(vin.transpose(2, 1, 0, 3)).reshape(-1, VF_IN))
        with torch.no_grad():
            v = self.vf(vin).reshape(N_AGENTS, COPIES, STEPS).numpy()
        r = rew.reshape(STEPS, COPIES, N_AGENTS).transpose(2, 1, 0)
        d = done.T
        adv = np.zeros_like(r)
        last = np.zeros((N_AGENTS, COPIES), np.float32)
        for t in reversed(range(STEPS)):
            nv = v[:, :, t + 1] if t + 1 < STEPS else v[:, :, t]
            nonterm = 1.0 - d[:, t]
            delta = r[:, :, t] + 0.99 * nv * nonterm - v[:, :, t]
            last = delta + 0.99 * 0.95 * nonterm * last
            adv[:, :, t] = last
        ret = torch.from_numpy((adv + v).reshape(-1))
        adv = torch.from_numpy(adv.reshape(-1))
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)

        params = list(self.pi.parameters())
        with torch.no_grad():
            old_logp_all = torch.log_softmax(self.pi(o), -1)
        old_logp = old_logp_all.gather(1, a[:, None])[:, 0]

        def surrogate():
            logp = torch.log_softmax(self.pi(o), -1).gather(1, a[:, None])[:, 0]
            return (torch.exp(logp - old_logp) * adv).mean()

        loss = surrogate()
        g = torch.cat([x.reshape(-1) for x in torch.autograd.grad(loss, params)])
        sub = o[::4]
        old_sub = old_logp_all[::4]

        def fvp(vec):
            lp = torch.log_softmax(self.pi(sub), -1)
            kl = (old_sub.exp() * (old_sub - lp)).sum(-1).mean()
            gk = torch.cat([x.reshape(-1) for x in torch.autograd.grad(kl, params, create_graph=True)])
            hv = torch.autograd.grad((gk * vec).sum(), params)
            return torch.cat([x.reshape(-1) for x in hv]) + 0.1 * vec

        x = torch.zeros_like(g)
        rr, p = g.clone(), g.clone()
        rs = rr @ rr
        for _ in range(10):
            ap = fvp(p)
            alpha = rs / (p @ ap)
            x += alpha * p
            rr -= alpha * ap
            new = rr @ rr
            p = rr + new / rs * p
            rs = new
        step = torch.sqrt(2 * 0.002 / (x @ fvp(x))) * x
        flat = torch.cat([q.data.reshape(-1) for q in params])

        def set_flat(f):
            i = 0
            for q in params:
                q.data.copy_(f[i:i + q.numel()].reshape(q.shape))
                i += q.numel()

        with torch.no_grad():
            for k in range(10):
                set_flat(flat + 0.8**k * step)
                lp = torch.log_softmax(self.pi(o), -1)
                kl = (old_logp_all.exp() * (old_logp_all - lp)).sum(-1).mean()
                if kl <= 0.002 and surrogate() > loss:
                    break
            else:
                set_flat(flat)
        return vin, ret

    def critic(self, vin, ret):
        n = len(ret)
        for _ in range(3):
            perm = torch.from_numpy(self.rng.permutation(n))
            for idx in perm.chunk(4):
                loss = ((self.vf(vin[idx])[:, 0] - ret[idx]) ** 2).mean()
                self.vf_opt.zero_grad()
                loss.backward()
                self.vf_opt.step()

    def iterate(self, parts):
        t0 = time.perf_counter()
        obs, act, done = self.rollout()
        t1 = time.perf_counter()
        pol = self.disc_inputs(obs, act)
        self.disc_steps(pol)
        t2 = time.perf_counter()
        with torch.no_grad():
            rew = nn.functional.logsigmoid(self.disc(pol)).numpy()
        vin, ret = self.trpo(obs, act, rew, done)
        t3 = time.perf_counter()
        self.critic(vin, ret)
        t4 = time.perf_counter()
        for k, dt in zip(["rollout", "disc10", "trpo", "critic"], [t1 - t0, t2 - t1, t3 - t2, t4 - t3]):
            parts.setdefault(k, []).append(dt * 1000)
        return (t4 - t0) * 1000


def main():
    for threads in (1, 2):
        torch.set_num_threads(threads)
        peer = Peer()
        parts = {}
        for _ in range(2):
            peer.iterate({})
        times = [peer.iterate(parts) for _ in range(7)]
        print(f"peer pytorch magail_c/w{threads} {statistics.median(times):.1f} ms", flush=True)
        if threads == 1:
            for k, v in parts.items():
                print(f"peer pytorch {k} {statistics.median(v):.1f} ms (part of magail_c/w1)", flush=True)


if __name__ == "__main__":
    main()
