"""The Gradio workbench: one module per tab; handlers call `lvr` only (no business logic here)."""
