"""The Gene expression panel: load counts or AnnData, QC, differential expression, ranking."""
