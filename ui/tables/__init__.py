"""The table model every table uses (``DataFrameModel``) and the delegate that draws structure
cells: Qt item models, named "tables" so they are not confused with the Models area
(``ui/models_area``) or machine learning (``core/models``)."""

from ui.tables.dataframe_model import (
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
from ui.tables.structure_delegate import StructureDelegate, cached_structure_pixmap

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
