// Synthesis module: see ARCHITECTURE.md.
