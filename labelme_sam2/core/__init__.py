"""The core every door shares: prompt sets, frame sequences, the tracker contract."""
