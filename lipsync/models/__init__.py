"""Neural networks used by the engines and the loading of their weights."""

from .checkpoint import WEIGHT_FILES, find_weights, load_wav2lip, read_state_dict
from .wav2lip import FACE_SIZE, MEL_STEP, PARAMETER_COUNT, Wav2Lip

__all__ = [
    "FACE_SIZE",
    "MEL_STEP",
    "PARAMETER_COUNT",
    "WEIGHT_FILES",
    "Wav2Lip",
    "find_weights",
    "load_wav2lip",
    "read_state_dict",
]
