"""sclesion: multi-sequence spinal-cord MS lesion segmentation as a BIDS App."""

__version__ = '0.1.0'
