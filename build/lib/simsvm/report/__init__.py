"""Stage 5, the report: figures, tables and the kernel widget, drawn from results tables only."""
