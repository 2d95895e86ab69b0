"""Long propagations as background jobs: in process (embedded) or on Redis + RQ workers."""
