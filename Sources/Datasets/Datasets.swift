// Datasets module: see ARCHITECTURE.md.
