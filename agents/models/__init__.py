"""Perception models for the learners: supervised (:class:`CellCNN` reads the agent's cell
from gridworld pixels), unsupervised (:class:`ConvAutoencoder`, whose encoder serves PPO
and whose reconstruction error scores anomalies) and state abstraction
(:class:`KMeansAbstraction`), with the wrappers that put them between an env and a learner.

Each model trains from the Python API (``train_cell_cnn``, ``train_autoencoder``,
``KMeansAbstraction.fit``) and saves and loads like the agents: torch models as a
``state_dict`` with their config (``.pt``, read with ``weights_only=True``), k-means as
``.npz``, written atomically.
"""

from agents.models.analysis import PCAResult, pca, roc_auc
from agents.models.autoencoder import (
    AutoencoderConfig,
    AutoencoderStats,
    ConvAutoencoder,
    ConvDecoder,
    ConvEncoder,
    train_autoencoder,
)
from agents.models.data import (
    LabelledFrames,
    enumerate_frames,
    placeable_states,
    random_map,
    random_observations,
    random_play,
    random_play_frames,
    reachable_states,
)
from agents.models.encoder_ppo import (
    EncoderActorCritic,
    PretrainedEncoderPPO,
    PretrainedEncoderPPOConfig,
)
from agents.models.kmeans import KMeansAbstraction, KMeansConfig, KMeansStats
from agents.models.perception import (
    CellAccuracy,
    CellCNN,
    CellCNNConfig,
    CellCNNStats,
    CellPrediction,
    cell_accuracy,
    train_cell_cnn,
)
from agents.models.training import FitConfig, FitStats, set_trainable
from agents.models.wrappers import GaussianNoise, KMeansToIndex, PixelsToIndex

__all__ = [
    "AutoencoderConfig",
    "AutoencoderStats",
    "CellAccuracy",
    "CellCNN",
    "CellCNNConfig",
    "CellCNNStats",
    "CellPrediction",
    "ConvAutoencoder",
    "ConvDecoder",
    "ConvEncoder",
    "EncoderActorCritic",
    "FitConfig",
    "FitStats",
    "GaussianNoise",
    "KMeansAbstraction",
    "KMeansConfig",
    "KMeansStats",
    "KMeansToIndex",
    "LabelledFrames",
    "PCAResult",
    "PixelsToIndex",
    "PretrainedEncoderPPO",
    "PretrainedEncoderPPOConfig",
    "cell_accuracy",
    "enumerate_frames",
    "pca",
    "placeable_states",
    "random_map",
    "random_observations",
    "random_play",
    "random_play_frames",
    "reachable_states",
    "roc_auc",
    "set_trainable",
    "train_autoencoder",
    "train_cell_cnn",
]
