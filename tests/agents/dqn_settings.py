"""DQN settings shared by the tests of DQN and of learners built on it."""

# Small, fast settings for toy problems: update every step from step 100.
DQN_FAST = {
    "learning_starts": 100,
    "train_freq": 1,
    "gradient_steps": 1,
    "batch_size": 32,
    "net_arch": (32,),
    "learning_rate": 1e-3,
    "exploration_fraction": 0.5,
    "device": "cpu",
}
