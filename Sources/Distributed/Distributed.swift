// Distributed module: see ARCHITECTURE.md.
