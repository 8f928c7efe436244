"""GAE, the rollout buffer, and the on-policy losses on tiny hand-computed cases."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents.common.networks import ParallelMLPs
from agents.common.rollout import RolloutBuffer, compute_gae
from agents.deep.a2c import policy_gradient_loss
from agents.deep.on_policy import value_loss
from agents.deep.ppo import clipped_surrogate_loss

GAMMA, LAM = 0.9, 0.8


def gae_case() -> dict[str, torch.Tensor]:
    """Three envs over three steps (time-major), each with one kind of episode end.

    env 0: step 1 truncated (time limit), V(final obs) = 2.0;
    env 1: step 0 terminated;
    env 2: step 2 both terminated and truncated (termination wins: no bootstrap).
    Values of ``final_values`` outside truncated steps are junk the function must ignore.
    """
    t = torch.tensor
    return {
        "rewards": t([[1.0, 1.0, 0.0], [2.0, 1.0, 0.0], [3.0, 1.0, 1.0]]),
        "values": t([[0.5, 1.0, 0.0], [1.0, 1.0, 0.0], [1.5, 1.0, 0.0]]),
        "terminated": t([[False, True, False], [False, False, False], [False, False, True]]),
        "truncated": t([[False, False, False], [True, False, False], [False, False, True]]),
        "final_values": t([[99.0, 99.0, 99.0], [2.0, 99.0, 99.0], [99.0, 99.0, 50.0]]),
        "last_values": t([4.0, 2.0, 7.0]),
    }


def test_gae_matches_a_hand_computed_case_with_truncation_and_termination() -> None:
    advantages, returns = compute_gae(**gae_case(), gamma=GAMMA, lam=LAM)
    g, gl = GAMMA, GAMMA * LAM
    # env 0: t=2 bootstraps from last_values; t=1 is truncated: r + g * V(final), no carry;
    # t=0 carries t=1's advantage.
    a0_2 = 3 + g * 4.0 - 1.5  # 5.1
    a0_1 = (2 + g * 2.0) - 1.0  # 2.8
    a0_0 = (1 + g * 1.0 - 0.5) + gl * a0_1  # 1.4 + 0.72 * 2.8 = 3.416
    # env 1: t=0 terminated: delta = r - V, nothing carried from the next episode.
    a1_2 = 1 + g * 2.0 - 1.0  # 1.8
    a1_1 = (1 + g * 1.0 - 1.0) + gl * a1_2  # 2.196
    a1_0 = 1 - 1.0  # 0
    # env 2: terminated at t=2 (also truncated): no bootstrap from V(final) = 50.
    a2_2 = 1.0
    a2_1 = gl * a2_2  # 0.72
    a2_0 = gl * a2_1  # 0.5184
    expected = torch.tensor([[a0_0, a1_0, a2_0], [a0_1, a1_1, a2_1], [a0_2, a1_2, a2_2]])
    torch.testing.assert_close(advantages, expected)
    torch.testing.assert_close(returns, expected + gae_case()["values"])
    assert advantages[0, 0].item() == pytest.approx(3.416)
    assert advantages[1, 1].item() == pytest.approx(2.196)


def test_gae_with_lambda_one_is_the_discounted_return_minus_the_baseline() -> None:
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[0.3], [0.2], [0.1]])
    no = torch.zeros(3, 1, dtype=torch.bool)
    _, returns = compute_gae(
        rewards, values, no, no, torch.zeros(3, 1), torch.tensor([10.0]), 0.5, 1.0
    )
    # Monte-Carlo returns bootstrapped by V(obs_T) = 10: 3 + 5 = 8, 2 + 4 = 6, 1 + 3 = 4.
    torch.testing.assert_close(returns.flatten(), torch.tensor([4.0, 6.0, 8.0]))


def test_rollout_buffer_stores_dict_observations_and_masks_per_key() -> None:
    space = gym.spaces.Dict(
        {
            "pos": gym.spaces.Box(-1, 1, (2,), np.float64),
            "cell": gym.spaces.Discrete(5),
            "action_mask": gym.spaces.MultiBinary(3),
        }
    )
    buffer = RolloutBuffer(space, gym.spaces.Discrete(3), 4, 2, torch.device("cpu"), n_actions=3)
    assert set(buffer.obs) == {"pos", "cell"}  # the mask is kept apart, not as a feature
    assert buffer.obs["pos"].dtype == torch.float32  # float64 shrinks to the network's dtype
    assert buffer.masks is not None and buffer.masks.shape == (4, 2, 3)
    obs = {"pos": np.array([[0.5, -0.5], [0.25, 1.0]]), "cell": np.array([3, 4])}
    row = buffer.store_obs(1, obs)
    torch.testing.assert_close(row["pos"], torch.tensor([[0.5, -0.5], [0.25, 1.0]]))
    assert buffer.obs["cell"][1].tolist() == [3, 4]
    flat = buffer.flat()
    assert flat.obs["pos"].shape == (8, 2) and flat.masks.shape == (8, 3)
    # Minibatches cover every row exactly once.
    buffer.obs["cell"].copy_(torch.arange(8).reshape(4, 2))
    seen = torch.cat([b.obs["cell"] for b in buffer.flat().minibatches(3, torch.Generator())])
    assert sorted(seen.tolist()) == list(range(8))


def test_ppo_clipped_surrogate_on_a_known_case() -> None:
    ratios = torch.tensor([1.5, 0.5, 1.1, 0.7])
    advantages = torch.tensor([1.0, 1.0, -1.0, -1.0])
    loss, ratio = clipped_surrogate_loss(
        torch.log(ratios), torch.zeros(4), advantages, clip_range=0.2
    )
    torch.testing.assert_close(ratio, ratios)
    # min(r A, clip(r) A): 1.2 (clipped gain), 0.5, -1.1, -0.8 (clipped: pessimistic) -> mean
    # -0.05, loss 0.05.
    assert loss.item() == pytest.approx(0.05, abs=1e-6)


def test_ppo_clipped_surrogate_has_no_gradient_beyond_the_clip_in_the_favoured_direction() -> None:
    log_probs = torch.log(torch.tensor([1.5, 1.1])).requires_grad_()
    loss, _ = clipped_surrogate_loss(log_probs, torch.zeros(2), torch.ones(2), 0.2)
    loss.backward()
    # d/dlogp of -r A / n: 0 for the clipped ratio 1.5, -1.1 / 2 for 1.1.
    torch.testing.assert_close(log_probs.grad, torch.tensor([0.0, -0.55]))


def test_value_loss_with_and_without_ppo2_clipping() -> None:
    values = torch.tensor([1.0, 2.0, 3.0])
    old = torch.tensor([0.5, 2.5, 2.0])
    returns = torch.tensor([2.0, 1.0, 2.5])
    # Unclipped: (1-2)^2, (2-1)^2, (3-2.5)^2 = 1, 1, 0.25.
    assert value_loss(values, returns).item() == pytest.approx(0.75)
    # Clipped values 0.7, 2.3, 2.2 give 1.69, 1.69, 0.09; the max per sample is taken.
    assert value_loss(values, returns, old, 0.2).item() == pytest.approx((1.69 + 1.69 + 0.25) / 3)


def test_a2c_policy_gradient_loss_on_a_known_case() -> None:
    log_probs = torch.log(torch.tensor([0.5, 0.25])).requires_grad_()
    advantages = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = policy_gradient_loss(log_probs, advantages)
    # -(1 * ln 0.5 + 2 * ln 0.25) / 2 = 2.5 ln 2.
    assert loss.item() == pytest.approx(2.5 * math.log(2))
    loss.backward()
    torch.testing.assert_close(log_probs.grad, torch.tensor([-0.5, -1.0]))
    assert advantages.grad is None  # advantages are constants for the actor


def test_parallel_mlps_compute_each_member_as_a_plain_mlp() -> None:
    torch.manual_seed(0)
    mlps = ParallelMLPs(5, (16, 8), (3, 1), out_gains=(0.01, 1.0))
    x = torch.randn(7, 5)
    outputs = mlps(x)
    assert [o.shape for o in outputs] == [(7, 3), (7, 1)]
    for j, d in enumerate((3, 1)):
        h = x
        for i, (w, b) in enumerate(zip(mlps.weights, mlps.biases, strict=True)):
            h = h @ w[j, :, : (d if i == 2 else w.shape[-1])] + b[j, 0, : (d if i == 2 else None)]
            h = torch.tanh(h) if i < 2 else h
        torch.testing.assert_close(outputs[j], h)
    # Initialised as mlp(): orthogonal hidden layers with gain sqrt(2), zero biases, and the
    # narrow member's padding columns zero (they are never read, so they stay zero).
    w0 = mlps.weights[0][0]
    torch.testing.assert_close(w0 @ w0.T, 2.0 * torch.eye(5), atol=1e-5, rtol=0)
    assert not mlps.weights[2][1, :, 1:].any()
    sum(o.sum() for o in mlps(x)).backward()
    assert not mlps.weights[2].grad[1, :, 1:].any()
