// Checkpoints module: see ARCHITECTURE.md.
