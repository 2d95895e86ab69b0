"""labelme-sam2: propagate LabelMe prompts through a video with SAM 2."""

__version__ = "0.1.0"
