"""Drawing on frames, torch-free: fills, overlays, prompt previews, strobe pictures, sheets."""
