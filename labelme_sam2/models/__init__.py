"""SAM 2 models: the checkpoint registry and downloader (standard library only), and
loading.py, which builds a model from ModelOptions (it imports torch only when called)."""
