"""SAM 2 checkpoints: the registry and the downloader. Standard library only, no torch."""
