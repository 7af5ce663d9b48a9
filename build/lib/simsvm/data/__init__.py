"""Stage 1, audio to frames: the datasets' on-disk layouts and the 80-dimensional log-mel frames.

:mod:`simsvm.data.datasets` indexes each dataset's files and annotations in its real layout
(and generates synthetic ones); :mod:`simsvm.data.frames` turns audio into normalised frames
and caches them.  Nothing here knows about networks.
"""
