"""Gene expression: load count matrices and sample sheets, QC, differential expression, ranking.

Plain Python over numpy, pandas, scipy, scikit-learn and PyDESeq2 (imported lazily); no Qt.
"""
