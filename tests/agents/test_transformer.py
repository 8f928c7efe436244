"""The token-action transformer encoder: shapes, the action layout read from the space,
padding, slot equivariance, and a supervised pointer task it must solve exactly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents.common.networks import make_encoder
from agents.common.transformer import BUCKET_ROWS, TokenActionEncoder, TransformerConfig
from agents.deep.policies import ActorCritic

LENGTH, SLOTS, VOCAB = 12, 5, 20  # slots 1..4 and "none"
# Actions: kind 0 "pick slot s" for s in 1..4, kind 1 "pick slots (a, b)" for a != b.
PAIRS = [(a, b) for a in range(1, SLOTS) for b in range(1, SLOTS) if a != b]
TABLE = np.array(
    [[0, s, 0, 0] for s in range(1, SLOTS)] + [[1, a, b, 3] for a, b in PAIRS], dtype=np.int64
)
MARK = 7  # the token that marks the slot to pick


def space(table: np.ndarray = TABLE) -> gym.spaces.Dict:
    return gym.spaces.Dict(
        {
            "tokens": gym.spaces.Box(0, VOCAB - 1, (LENGTH,), np.int64),
            "token_slots": gym.spaces.Box(0, SLOTS - 1, (LENGTH,), np.int64),
            "action_args": gym.spaces.Box(table, table, table.shape, np.int64),
            "action_mask": gym.spaces.MultiBinary(len(table)),
        }
    )


def pointer_batch(n: int, rng: np.random.Generator) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Four slots, each two tokens (a random name token, then 9 or MARK); the target is the
    slot followed by MARK. Tokens are shuffled in slot order, so position says nothing."""
    tokens = np.zeros((n, LENGTH), np.int64)
    slots = np.zeros((n, LENGTH), np.int64)
    targets = rng.integers(1, SLOTS, size=n)
    for i in range(n):
        order = rng.permutation(np.arange(1, SLOTS))
        for j, s in enumerate(order):
            tokens[i, 2 * j] = rng.integers(10, VOCAB)
            tokens[i, 2 * j + 1] = MARK if s == targets[i] else 9
            slots[i, 2 * j : 2 * j + 2] = s
    obs = {
        "tokens": torch.as_tensor(tokens),
        "token_slots": torch.as_tensor(slots),
        "action_args": torch.as_tensor(TABLE).expand(n, *TABLE.shape),
        "action_mask": torch.ones(n, len(TABLE)),
    }
    return obs, torch.as_tensor(targets - 1)  # action s - 1 picks slot s


def test_make_encoder_picks_the_transformer_and_reads_the_layout_from_the_space() -> None:
    encoder = make_encoder(space())
    assert isinstance(encoder, TokenActionEncoder)
    assert encoder.scores_actions and encoder.n_actions == len(TABLE)
    obs, _ = pointer_batch(3, np.random.default_rng(0))
    state, actions = encoder.encode_actions(obs)
    assert state.shape == (3, encoder.out_dim)
    assert actions.shape == (3, len(TABLE), encoder.action_dim)
    logits, values = ActorCritic(space(), gym.spaces.Discrete(len(TABLE))).heads(obs)
    assert logits.shape == (3, len(TABLE)) and values.shape == (3,)


def test_the_action_layout_must_be_constant_and_the_config_valid() -> None:
    bad = space()
    bad.spaces["action_args"] = gym.spaces.Box(0, 4, TABLE.shape, np.int64)
    with pytest.raises(ValueError, match="constant"):
        TokenActionEncoder(bad)
    with pytest.raises(ValueError, match="divide"):
        TransformerConfig(d_model=30, heads=4)


def test_all_padding_rows_give_finite_outputs() -> None:
    obs, _ = pointer_batch(2, np.random.default_rng(0))
    obs["tokens"][1] = 0
    obs["token_slots"][1] = 0
    state, actions = TokenActionEncoder(space()).encode_actions(obs)
    assert torch.isfinite(state).all() and torch.isfinite(actions).all()


def test_a_large_batch_encoded_in_length_buckets_equals_each_row_encoded_alone() -> None:
    torch.manual_seed(0)
    encoder = TokenActionEncoder(space()).eval()
    n = 2 * BUCKET_ROWS + 5  # enough rows for three buckets
    obs, _ = pointer_batch(n, np.random.default_rng(2))
    lengths = np.random.default_rng(3).integers(1, LENGTH + 1, size=n)  # padding after
    for i, length in enumerate(lengths):
        obs["tokens"][i, length:] = 0
        obs["token_slots"][i, length:] = 0
    with torch.no_grad():
        state, actions = encoder.encode_actions(obs)
        for i in range(0, n, 17):
            row = {k: v[i : i + 1] for k, v in obs.items()}
            alone_state, alone_actions = encoder.encode_actions(row)
            torch.testing.assert_close(state[i : i + 1], alone_state, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(actions[i : i + 1], alone_actions, rtol=1e-4, atol=1e-5)


def test_renaming_slots_permutes_the_action_vectors_the_same_way() -> None:
    torch.manual_seed(0)
    encoder = TokenActionEncoder(space()).eval()
    obs, _ = pointer_batch(4, np.random.default_rng(1))
    perm = np.array([0, 3, 1, 4, 2])  # slot s is called perm[s]; 0 stays "none"
    renamed = dict(obs)
    renamed["token_slots"] = torch.as_tensor(perm)[obs["token_slots"]]
    # Slot ids carry an embedding of their own, so zero it: then only the text decides.
    with torch.no_grad():
        encoder.slot_embedding.weight.zero_()
        _, before = encoder.encode_actions(obs)
        _, after = encoder.encode_actions(renamed)
    index = {tuple(row[:3]): i for i, row in enumerate(TABLE.tolist())}
    for i, (kind, a, b, _) in enumerate(TABLE.tolist()):
        j = index[(kind, int(perm[a]), int(perm[b]) if b else 0)]
        torch.testing.assert_close(before[:, i], after[:, j], rtol=1e-4, atol=1e-5)


def test_learns_to_point_at_the_marked_slot_exactly() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    policy = ActorCritic(space(), gym.spaces.Discrete(len(TABLE)))
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    for _ in range(300):
        obs, targets = pointer_batch(64, rng)
        loss = torch.nn.functional.cross_entropy(policy.actor_output(obs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    obs, targets = pointer_batch(500, np.random.default_rng(99))
    with torch.no_grad():
        accuracy = (policy.actor_output(obs).argmax(-1) == targets).float().mean().item()
    assert accuracy == 1.0
