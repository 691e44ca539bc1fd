"""Qt item models shared by the panels, and the delegates that draw their cells."""

from ui.models.dataframe_model import (
    STRUCTURE_SMILES_ROLE,
    ColumnSpec,
    DataFrameModel,
    RawValueRole,
    RowFilter,
    SortRole,
    configure_table_view,
    infer_columns,
    structure_column,
)
from ui.models.structure_delegate import StructureDelegate, cached_structure_pixmap

__all__ = [
    "STRUCTURE_SMILES_ROLE",
    "ColumnSpec",
    "DataFrameModel",
    "RawValueRole",
    "RowFilter",
    "SortRole",
    "StructureDelegate",
    "cached_structure_pixmap",
    "configure_table_view",
    "infer_columns",
    "structure_column",
]
