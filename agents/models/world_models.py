"""World Models (Ha & Schmidhuber, 2018) for pixel envs: a convolutional autoencoder (V)
compresses frames to latent codes, a GRU (M, :class:`~agents.models.latent.LatentDynamics`)
learns how the codes, the reward and termination follow from actions, and a linear
controller (C) reading the code and M's memory is trained entirely inside the model (in
"dreams"), then run in the real env.

The controller is trained with the cross-entropy method over its weights (a Gaussian whose
mean and per-weight spread are refitted to the best candidates each generation): a
diagonal CMA-ES, which is what the original used in full, and the simplest optimiser that
works here. The controller has a few hundred weights and its return in a dream is a
step function of them (actions are argmax choices), so a gradient-free search over a
population that a single batched dream evaluates at once is both simpler and steadier
than REINFORCE inside the model.

:class:`WorldModelsAgent` runs the whole recipe from the Python API and saves, loads and
acts like any agent: ``learn`` plays random actions for its step budget, then trains V
(unless a pretrained autoencoder was named), M and C on what it saw; with ``rounds`` above
1, later rounds play the controller and retrain M and C (the original's iterative
training).

A controller searched for in a dream finds the dream's mistakes: on a 3x3 pixel gridworld
the first version here learned to press against a wall beside the goal, where M's memory
drifted after a few identical steps and dreamed up small rewards that summed to more than
the goal's. Two measures keep M honest enough there (measured on that map, 2,000 steps:
the controller reached the goal for 1 of 4 seeds without them and for 5 of 6 with them,
and for 6 of 6 on the test's map with holes): random play repeats
actions (``random_repeat``), so M sees runs against walls; and M is trained with noise on
the codes it reads (``dynamics_input_noise``), so it pulls its own slightly wrong
predictions back instead of compounding them. Terminal steps also weigh as much in M's
loss as all the others (:func:`~agents.models.latent.termination_weight`): without that M
gave entering the goal a termination probability of 0.13, and dreams ran on past it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.base import Callback, EpisodeStats
from agents.common.torch_utils import torch_threads
from agents.deep.base import TorchAgent
from agents.models.autoencoder import AutoencoderConfig, ConvAutoencoder, train_autoencoder
from agents.models.data import Transitions
from agents.models.latent import LatentDynamics, LatentDynamicsConfig, train_latent_dynamics
from agents.models.planning import imagined_returns
from agents.models.training import FitConfig, seeded


class LinearController(nn.Module):
    """Action logits as a linear function of the latent code and the model's memory;
    the action is the largest logit."""

    def __init__(self, features: int, n_actions: int) -> None:
        super().__init__()
        self.linear = nn.Linear(features, n_actions)

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features)

    def population_logits(self, weights: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """(P, S, A) logits of P candidate weight vectors (P, n_parameters), laid out as
        :func:`torch.nn.utils.parameters_to_vector` lays out this module's, each on its own
        (P, S, features) batch."""
        a, f = self.linear.weight.shape
        matrices = weights[:, : a * f].view(-1, a, f)
        return torch.einsum("psf,paf->psa", features, matrices) + weights[:, None, a * f :]

    def load_vector(self, weights: torch.Tensor) -> None:
        """Set the weights from one flat vector (the layout of ``population_logits``)."""
        torch.nn.utils.vector_to_parameters(weights.to(self.linear.weight), self.parameters())


@dataclass(frozen=True)
class DreamSearchStats:
    """What a controller search did, generation by generation."""

    best: tuple[float, ...]
    """Best predicted return in each generation's population."""
    mean: tuple[float, ...]
    """Predicted return of each generation's mean weights (its first candidate)."""
    final: float
    """Predicted return of the weights the controller ends with (the last mean)."""


@torch.no_grad()
def dream_returns(
    dynamics: LatentDynamics,
    controller: LinearController,
    weights: torch.Tensor,
    starts: torch.Tensor,
    horizon: int,
    gamma: float,
) -> torch.Tensor:
    """(P,) predicted return of each of P controller weight vectors (P, n_parameters),
    averaged over dreams from the (S, latent_dim) standardised start codes, each dream
    ``horizon`` steps long (rewards weighed by the chance of not having terminated)."""
    p, s = len(weights), len(starts)
    latents = starts.repeat(p, 1)
    memory = dynamics.initial_state(p * s)
    rewards, ends = [], []
    for _ in range(horizon):
        features = torch.cat([latents, memory], dim=-1).view(p, s, -1)
        actions = controller.population_logits(weights, features).argmax(-1).view(p * s)
        memory, pred = dynamics.step(latents, actions, memory)
        latents = pred.next_obs
        rewards.append(pred.rewards)
        ends.append(pred.terminated)
    returns = imagined_returns(torch.stack(rewards, -1), torch.stack(ends, -1), gamma)
    return returns.view(p, s).mean(1)


def train_controller_in_dream(
    dynamics: LatentDynamics,
    controller: LinearController,
    starts: torch.Tensor,
    rng: np.random.Generator,
    *,
    population: int = 64,
    generations: int = 30,
    elite_fraction: float = 0.2,
    init_std: float = 0.5,
    min_std: float = 0.05,
    horizon: int = 30,
    gamma: float = 0.99,
) -> DreamSearchStats:
    """Cross-entropy search over ``controller``'s weights for the highest predicted return
    in dreams from ``starts``; the controller ends with the final mean. Each generation
    samples ``population`` weight vectors (the current mean among them) from a diagonal
    Gaussian with noise from ``rng`` and refits mean and spread (at least ``min_std``) to
    the best ``elite_fraction``."""
    device = starts.device
    mean = torch.nn.utils.parameters_to_vector(controller.parameters()).detach().to(device)
    std = torch.full_like(mean, init_std)
    n_elite = max(1, round(elite_fraction * population))
    best, centre = [], []
    for _ in range(generations):
        noise = torch.as_tensor(rng.standard_normal((population, len(mean))), dtype=mean.dtype)
        noise[0] = 0.0  # the current mean competes too
        candidates = mean + std * noise.to(device)
        scores = dream_returns(dynamics, controller, candidates, starts, horizon, gamma)
        best.append(float(scores.max()))
        centre.append(float(scores[0]))
        elites = candidates[scores.topk(n_elite).indices]
        mean = elites.mean(0)
        std = elites.std(0, unbiased=False).clamp(min=min_std)
    controller.load_vector(mean)
    final = dream_returns(dynamics, controller, mean[None], starts, horizon, gamma)
    return DreamSearchStats(tuple(best), tuple(centre), float(final[0]))


@dataclass(frozen=True)
class WorldModelsConfig:
    """The three parts of World Models and how each is trained."""

    autoencoder_checkpoint: str = ""
    """A :class:`~agents.models.autoencoder.ConvAutoencoder` checkpoint (``.pt``) to use
    as V, frozen; empty: ``learn`` trains one on its random-play frames."""
    latent_dim: int = 16
    """Size of the latent code of an autoencoder trained here."""
    autoencoder_channels: tuple[int, ...] = (16, 32)
    """Convolution widths of an autoencoder trained here (each halves the frame)."""
    autoencoder_epochs: int = 25
    """Training passes of an autoencoder trained here."""
    autoencoder_learning_rate: float = 1e-2
    """Adam step size of an autoencoder trained here."""
    memory_size: int = 64
    """Hidden state size of M's GRU."""
    sequence_length: int = 8
    """Steps per training sequence of M (episodes are cut into windows this long)."""
    dynamics_epochs: int = 60
    """Training passes of M over its sequences."""
    dynamics_batch_size: int = 16
    """Sequences per gradient step of M."""
    dynamics_input_noise: float = 0.3
    """Noise on the codes M reads in training (standardised units), so that it corrects
    its own small errors in a dream instead of adding them up (see
    :func:`~agents.models.latent.train_latent_dynamics`)."""
    dynamics_learning_rate: float = 1e-2
    """Adam step size of M (measured on a 3x3 pixel gridworld: 1e-2 fits in 30 passes
    what 3e-3 fits in 100)."""
    population: int = 64
    """Controller weight vectors evaluated per generation of the search."""
    generations: int = 30
    """Generations of the controller search."""
    elite_fraction: float = 0.2
    """Share of each generation the search's Gaussian is refitted to."""
    init_std: float = 0.5
    """Initial spread of every controller weight in the search."""
    min_std: float = 0.05
    """Least spread the search keeps, so it never stops exploring."""
    dream_horizon: int = 30
    """Steps of each dream (set it to about the env's time limit)."""
    dream_starts: int = 8
    """Dreams per candidate, each from an observed first frame of an episode."""
    gamma: float = 0.99
    """Discount of predicted rewards in a dream (below 1 prefers reaching rewards sooner)."""
    rounds: int = 1
    """Rounds of World Models' iterative training per ``learn`` call: the agent's first
    round plays random actions, every later one plays the current controller (see
    ``exploration_epsilon``); after each, M and C are retrained on everything seen. Later
    rounds show M what the controller does, which random play rarely does (pressing
    against one wall again and again), and which M must not dream up rewards for."""
    random_repeat: float = 0.75
    """Chance that a step of random play repeats the previous action (runs of one action
    last 1 / (1 - p) steps on average). Uniform random play rarely presses against the
    same wall many times running; a GRU that never saw it drifts there and dreams up
    rewards, which a controller then exploits."""
    exploration_epsilon: float = 0.1
    """Chance of a uniformly random action in each step of a controller round."""
    torch_threads: int | None = 1
    """Intra-op CPU threads while learning and acting (None: torch's default)."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "autoencoder_channels", tuple(int(c) for c in self.autoencoder_channels)
        )
        positive = (
            "latent_dim",
            "autoencoder_epochs",
            "memory_size",
            "sequence_length",
            "dynamics_epochs",
            "dynamics_batch_size",
            "population",
            "generations",
            "dream_horizon",
            "dream_starts",
            "rounds",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        checks = (
            ("autoencoder_learning_rate", self.autoencoder_learning_rate > 0, "> 0"),
            ("dynamics_learning_rate", self.dynamics_learning_rate > 0, "> 0"),
            ("elite_fraction", 0.0 < self.elite_fraction <= 1.0, "in (0, 1]"),
            ("init_std", self.init_std > 0, "> 0"),
            ("min_std", self.min_std >= 0, ">= 0"),
            ("dynamics_input_noise", self.dynamics_input_noise >= 0, ">= 0"),
            ("gamma", 0.0 <= self.gamma <= 1.0, "in [0, 1]"),
            ("random_repeat", 0.0 <= self.random_repeat < 1.0, "in [0, 1)"),
            ("exploration_epsilon", 0.0 <= self.exploration_epsilon <= 1.0, "in [0, 1]"),
            ("torch_threads", self.torch_threads is None or self.torch_threads >= 1, ">= 1"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")


class WorldModelsAgent(TorchAgent):
    """V, M and C of World Models (see the module docstring) on image observations and
    Discrete actions. Acting keeps M's memory from step to step; ``start_episode`` (which
    :func:`~agents.evaluation.run_episode` calls) clears it."""

    name = "world_models"
    config_class = WorldModelsConfig
    config: WorldModelsConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: WorldModelsConfig | None = None,
        seed: int | None = None,
        autoencoder: AutoencoderConfig | None = None,
    ) -> None:
        """``autoencoder`` is the architecture of V when it comes from a saved agent (its
        weights then come from the agent's checkpoint)."""
        super().__init__(observation_space, action_space, config, seed)
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ValueError(f"WorldModelsAgent needs a Discrete action space, got {action_space}")
        cfg = self.config
        self.n_actions = int(action_space.n)
        self.action_start = int(action_space.start)
        with seeded(0 if seed is None else seed):
            self.autoencoder = self._make_autoencoder(autoencoder)
            self.pretrained = bool(cfg.autoencoder_checkpoint)
            latent = self.autoencoder.config.latent_dim
            self.dynamics = LatentDynamics(
                LatentDynamicsConfig(latent, self.n_actions, cfg.memory_size)
            )
            self.controller = LinearController(latent + cfg.memory_size, self.n_actions)
            nn.init.zeros_(self.controller.linear.weight)  # the search starts from zero
            nn.init.zeros_(self.controller.linear.bias)
        for module in (self.autoencoder, self.dynamics, self.controller):
            module.to(self.device).eval()
        self._memory: torch.Tensor | None = None
        self.rounds_done = 0  # trainings done: the first trains V, later ones play C
        self.data: Transitions | None = None  # every step played, for retraining

    def _make_autoencoder(self, saved: AutoencoderConfig | None) -> ConvAutoencoder:
        cfg = self.config
        if saved is not None:
            return ConvAutoencoder(saved)
        if cfg.autoencoder_checkpoint:
            model = ConvAutoencoder.load(cfg.autoencoder_checkpoint)
        else:
            model = ConvAutoencoder(
                AutoencoderConfig.from_space(
                    self.observation_space,
                    channels=cfg.autoencoder_channels,
                    latent_dim=cfg.latent_dim,
                )
            )
        shape = tuple(self.observation_space.shape or ())
        if shape != model.config.frame_shape:
            raise ValueError(
                f"the env's observations have shape {shape} but the autoencoder in "
                f"{cfg.autoencoder_checkpoint} reads frames of shape {model.config.frame_shape}"
            )
        return model

    # ------------------------------------------------------------------ TorchAgent
    def state_modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {
            "autoencoder": self.autoencoder,
            "dynamics": self.dynamics,
            "controller": self.controller,
        }

    def extra_state(self) -> dict[str, Any]:
        return {"rounds_done": self.rounds_done}

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        self.rounds_done = int(extra["rounds_done"])

    def init_kwargs(self) -> dict[str, Any]:
        return {"autoencoder": asdict(self.autoencoder.config)}

    @classmethod
    def init_kwargs_from_json(cls, saved: dict[str, Any]) -> dict[str, Any]:
        return {"autoencoder": AutoencoderConfig(**saved["autoencoder"])}

    # ------------------------------------------------------------------ acting
    def start_episode(self) -> None:
        self._memory = None

    def policy_action(
        self, obs: Any, mask: torch.Tensor | None, deterministic: bool
    ) -> torch.Tensor:
        """The controller's actions from the frames' codes and M's memory, which then
        takes in the step (one memory per row; a new batch size starts new ones)."""
        latents = self.dynamics.standardize(self.autoencoder.encoder(obs))
        if self._memory is None or len(self._memory) != len(latents):
            self._memory = self.dynamics.initial_state(len(latents))
        actions = self.controller(torch.cat([latents, self._memory], dim=-1)).argmax(-1)
        self._memory = self.dynamics.remember(latents, actions, self._memory)
        return actions + self.action_start

    # ------------------------------------------------------------------ learning
    def learn(self, env: gym.Env, total_steps: int, callback: Callback | None = None) -> None:
        """Play until ``total_steps`` in ``rounds`` rounds (random actions first, then the
        controller), training after each round V (the first time only, unless
        pretrained), M and C on every step played so far. ``on_update`` reports each
        round's final losses and the controller's predicted return; ``on_step`` for a
        round's last step comes after that training. The steps played live
        as long as the agent object and are not saved."""
        if self.num_steps >= total_steps:
            return
        callback = callback if callback is not None else Callback()
        for role, ours, theirs in (
            ("observation", self.observation_space, env.observation_space),
            ("action", self.action_space, env.action_space),
        ):
            if ours != theirs:
                raise ValueError(f"env {role} space {theirs} differs from the agent's {ours}")
        remaining = total_steps - self.num_steps
        rounds = self.config.rounds
        with torch_threads(self._act_threads):
            for r in range(rounds):
                steps = remaining // rounds + (1 if r < remaining % rounds else 0)
                if steps == 0:
                    continue
                part, stopped = self._play(env, steps, callback)
                self.data = part if self.data is None else Transitions.concat([self.data, part])
                callback.on_update(self, self.fit_world_model(self.data))
                # The round's last step is reported once the agent has trained on it, so an
                # evaluation or checkpoint at that step sees the trained agent.
                if stopped or not callback.on_step(self, self.num_steps):
                    break

    def _play(self, env: gym.Env, steps: int, callback: Callback) -> tuple[Transitions, bool]:
        """``steps`` steps of random actions (before the first training) or of the
        controller with ``exploration_epsilon``; the last one is marked truncated (the
        episode is cut off there). Returns them and whether a callback asked to stop."""
        cfg = self.config
        controller = self.rounds_done > 0
        seed = (0 if self.seed is None else self.seed) + self.num_steps
        obs, _ = env.reset(seed=seed)
        self.start_episode()
        rows: list[tuple[Any, ...]] = []
        episode_return, length, stopped = 0.0, 0, False
        action = None
        while len(rows) < steps and not stopped:
            if controller and self.rng.random() >= cfg.exploration_epsilon:
                action = self.act(obs)
            elif controller:
                action = int(self.rng.integers(self.n_actions)) + self.action_start
                self._remember(obs, action)  # the memory still takes the step in
            elif action is None or self.rng.random() >= cfg.random_repeat:
                action = int(self.rng.integers(self.n_actions)) + self.action_start
            next_obs, reward, terminated, truncated, info = env.step(action)
            rows.append((obs, action - self.action_start, reward, next_obs, terminated, truncated))
            self.num_steps += 1
            episode_return += float(reward)
            length += 1
            if terminated or truncated:
                success = bool(info.get("is_success", False))
                stats = EpisodeStats(self.num_steps, episode_return, length, success)
                callback.on_episode_end(self, stats)
                episode_return, length = 0.0, 0
                next_obs, _ = env.reset()
                self.start_episode()
            obs = next_obs
            if len(rows) < steps:  # the round's last step: ``learn`` reports it after training
                stopped = not callback.on_step(self, self.num_steps)
        obs_, actions, rewards, next_obs_, terminated, truncated = zip(*rows, strict=True)
        truncated = np.asarray(truncated, dtype=bool)
        truncated[-1] = True
        data = Transitions.of(
            np.stack(obs_), actions, rewards, np.stack(next_obs_), terminated, truncated
        )
        return data, stopped

    def _remember(self, obs: Any, action: int) -> None:
        """Let the memory take in a step whose action did not come from the controller."""
        with torch.no_grad(), torch_threads(self._act_threads):
            latents = self.dynamics.standardize(self.autoencoder.encoder(self.batch_obs(obs)))
            if self._memory is None:
                self._memory = self.dynamics.initial_state(1)
            actions = torch.tensor([action - self.action_start], device=self.device)
            self._memory = self.dynamics.remember(latents, actions, self._memory)

    def fit_world_model(self, data: Transitions) -> dict[str, float]:
        """Train V (unless pretrained), then M on V's codes of ``data``, then C in M's
        dreams from ``data``'s episode starts; returns the losses and C's predicted
        return."""
        cfg = self.config
        seed = 0 if self.seed is None else self.seed
        metrics: dict[str, float] = {}
        device = str(self.device)
        if not self.pretrained and self.rounds_done == 0:
            fit = FitConfig(
                epochs=cfg.autoencoder_epochs,
                learning_rate=cfg.autoencoder_learning_rate,
                seed=seed,
                device=device,
                torch_threads=None,
            )
            # Every frame seen: the steps' first frames and the episodes' last ones.
            frames = np.concatenate([data.obs, data.next_obs[data.done]])
            self.autoencoder, stats = train_autoencoder(frames, self.autoencoder.config, fit)
            metrics["autoencoder_loss"] = stats.fit.final_loss
        latents = self.autoencoder.encode(data.obs)
        next_latents = self.autoencoder.encode(data.next_obs)
        fit = FitConfig(
            epochs=cfg.dynamics_epochs,
            batch_size=cfg.dynamics_batch_size,
            learning_rate=cfg.dynamics_learning_rate,
            seed=seed,
            device=device,
            torch_threads=None,
        )
        self.dynamics, stats = train_latent_dynamics(
            latents,
            next_latents,
            data,
            self.dynamics.config,
            fit,
            cfg.sequence_length,
            model=self.dynamics,
            input_noise=cfg.dynamics_input_noise,
        )
        metrics["dynamics_loss"] = stats.final_loss
        first = data.episode_starts()
        picked = first[self.rng.integers(0, len(first), cfg.dream_starts)]
        with torch.no_grad():
            starts = self.dynamics.standardize(torch.as_tensor(latents[picked], device=self.device))
        search = train_controller_in_dream(
            self.dynamics,
            self.controller,
            starts,
            self.rng,
            population=cfg.population,
            generations=cfg.generations,
            elite_fraction=cfg.elite_fraction,
            init_std=cfg.init_std,
            min_std=cfg.min_std,
            horizon=cfg.dream_horizon,
            gamma=cfg.gamma,
        )
        metrics["dream_return"] = search.final
        self.rounds_done += 1
        return metrics
