"""Media input and output through PyAV: probing, streaming decode, MP4 writing."""

from .probe import MediaInfo, StreamInfo, probe
from .video import Frame, VideoSource, open_video
from .writer import VideoWriter, nvenc_available

__all__ = [
    "Frame",
    "MediaInfo",
    "StreamInfo",
    "VideoSource",
    "VideoWriter",
    "nvenc_available",
    "open_video",
    "probe",
]
