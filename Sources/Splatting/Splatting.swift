// Splatting module: see ARCHITECTURE.md.
