"""The mechanistic route: train toy networks, read programs out of their weights and activations, and
check those programs in context. May call synthesis/ for small sub-problems; never reads a task's
reference program."""
from .compile import CompileError, compile  # noqa: A004  (the contract's name)
from .extract import ExtractionError, ExtractionResult, extract, names
from .faithfulness import is_mechanism
from .modelfile import ModelFileError, load, save
from .registry import Reading, extractor, registry
from .subnetwork import subnetwork
from .train import Trained, TrainingError, train, untrained

__all__ = ["CompileError", "ExtractionError", "ExtractionResult", "ModelFileError", "Reading", "Trained", "TrainingError",
           "extract", "extractor", "compile", "is_mechanism", "load", "names", "registry", "save", "subnetwork",
           "train", "untrained"]
