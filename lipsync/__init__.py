"""HeyGem lip-sync engine: turns one speech track and a presenter video or photo into an MP4.

Plain Python (PyAV, numpy, scipy, dlib, torch); it never imports Django. Entry points:
:func:`lipsync.engines.get_engine` for callers, ``python -m lipsync`` for people.
"""

__version__ = "0.1.0"
