"""The GrabCut stand-in behind scripts/docs_standin_tracking.py: documentation pictures only."""
