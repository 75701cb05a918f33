"""The DTI Lab model and data in plain PyTorch: train the lab's runs on a cluster, check them against the lab."""

from .data import Shards, load_shards
from .mask import allowed
from .model import DtiLabModel, load_lab_checkpoint, save_lab_checkpoint

__all__ = [
    "DtiLabModel",
    "Shards",
    "allowed",
    "load_lab_checkpoint",
    "load_shards",
    "save_lab_checkpoint",
]
