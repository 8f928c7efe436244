"""Perception models for the learners: supervised (:class:`CellCNN` reads the agent's cell
from gridworld pixels), unsupervised (:class:`ConvAutoencoder`, whose encoder serves PPO
and whose reconstruction error scores anomalies) and state abstraction
(:class:`KMeansAbstraction`), with the wrappers that put them between an env and a learner.

World models: :class:`DynamicsEnsemble` (MLPs predicting the next observation, reward and
termination), used by :class:`DynaDQN` (imagined transitions in DQN's replay) and
:class:`ModelPredictiveAgent` (planning by model rollouts); and, for pixels,
:class:`WorldModelsAgent` (autoencoder latents, a GRU model of them, a controller trained
in its dreams).

Each model trains from the Python API (``train_cell_cnn``, ``train_autoencoder``,
``KMeansAbstraction.fit``, ``DynamicsEnsemble.fit``, ``train_latent_dynamics``, the
agents' ``learn``) and saves and loads like the agents: torch models as a
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
    Transitions,
    enumerate_frames,
    placeable_states,
    random_episode_returns,
    random_map,
    random_observations,
    random_play,
    random_play_frames,
    random_steps,
    random_transitions,
    reachable_states,
)
from agents.models.dyna_dqn import DynaDQN, DynaDQNConfig
from agents.models.dynamics import DynamicsConfig, DynamicsEnsemble, Prediction
from agents.models.encoder_ppo import (
    EncoderActorCritic,
    PretrainedEncoderPPO,
    PretrainedEncoderPPOConfig,
)
from agents.models.kmeans import KMeansAbstraction, KMeansConfig, KMeansStats
from agents.models.latent import LatentDynamics, LatentDynamicsConfig, train_latent_dynamics
from agents.models.model_learning import ModelLearner, ModelLearningConfig
from agents.models.perception import (
    CellAccuracy,
    CellCNN,
    CellCNNConfig,
    CellCNNStats,
    CellPrediction,
    cell_accuracy,
    train_cell_cnn,
)
from agents.models.planning import (
    ModelPredictiveAgent,
    ModelPredictiveConfig,
    cross_entropy_method,
    imagined_returns,
    random_shooting,
)
from agents.models.training import FitConfig, FitStats, set_trainable
from agents.models.world_models import (
    LinearController,
    WorldModelsAgent,
    WorldModelsConfig,
    train_controller_in_dream,
)
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
    "DynaDQN",
    "DynaDQNConfig",
    "DynamicsConfig",
    "DynamicsEnsemble",
    "EncoderActorCritic",
    "FitConfig",
    "FitStats",
    "GaussianNoise",
    "KMeansAbstraction",
    "KMeansConfig",
    "KMeansStats",
    "KMeansToIndex",
    "LabelledFrames",
    "LatentDynamics",
    "LatentDynamicsConfig",
    "LinearController",
    "ModelLearner",
    "ModelLearningConfig",
    "ModelPredictiveAgent",
    "ModelPredictiveConfig",
    "PCAResult",
    "PixelsToIndex",
    "Prediction",
    "PretrainedEncoderPPO",
    "PretrainedEncoderPPOConfig",
    "Transitions",
    "WorldModelsAgent",
    "WorldModelsConfig",
    "cell_accuracy",
    "cross_entropy_method",
    "enumerate_frames",
    "imagined_returns",
    "pca",
    "placeable_states",
    "random_episode_returns",
    "random_map",
    "random_observations",
    "random_play",
    "random_play_frames",
    "random_shooting",
    "random_steps",
    "random_transitions",
    "reachable_states",
    "roc_auc",
    "set_trainable",
    "train_autoencoder",
    "train_cell_cnn",
    "train_controller_in_dream",
    "train_latent_dynamics",
]
