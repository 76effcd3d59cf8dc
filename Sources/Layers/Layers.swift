// Layers module: see ARCHITECTURE.md.
