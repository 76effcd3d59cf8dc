// Optimizers module: see ARCHITECTURE.md.
