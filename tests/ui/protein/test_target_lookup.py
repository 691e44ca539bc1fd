"""A gene symbol typed in the Proteins area's Fetch box: looked up on the engine (loopback
stand-ins of UniProt, RCSB and AlphaFold DB, tests/target_services.py), its structures offered in
the target chooser, the one picked opened as Fetch does."""

from __future__ import annotations

import gzip

from PySide6.QtCore import Qt

from core.protein.synthetic import synthetic_complex_pdb
from ui.protein.target_chooser import MAX_SIZE


def _cif_gz() -> bytes:
    import gemmi

    st = gemmi.read_pdb_string(synthetic_complex_pdb())
    st.setup_entities()
    return gzip.compress(st.make_mmcif_document().as_string().encode())


def test_a_gene_in_fetch_lists_its_structures_and_opens_the_one_picked(
    panel, qtbot, target_services
):
    target_services.files["3FT7.cif.gz"] = _cif_gz()
    qtbot.keyClicks(panel.fetch_edit, "FTL")
    qtbot.keyClick(panel.fetch_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: panel.target_chooser is not None and panel.target_chooser.isVisible(),
        timeout=20_000,
    )
    chooser = panel.target_chooser
    assert target_services.count("uniprot") == 1  # looked up, not fetched as an accession
    assert "'FTL' is not a UniProt accession" not in panel.message_label.text()
    assert chooser.identifiers() == ["P02792", "2FFX", "3FT7", "7A6B"]  # AlphaFold model first
    tree = chooser.tree
    alphafold = tree.topLevelItem(0)
    assert alphafold.text(0) == "AF-P02792-F1" and "mean pLDDT 93.5" in alphafold.text(4)
    inhibitor = tree.topLevelItem(2)
    assert [inhibitor.text(c) for c in range(4)] == ["3FT7", "2.25 Å", "x-ray diffraction", "Q7X"]
    assert "GOL: glycerol (additive)" in inhibitor.toolTip(3)
    assert tree.topLevelItem(1).text(3) == "–"  # CD and SO4 are additives
    assert "UniProt P02792, Ferritin light chain" in chooser.header.text()
    assert chooser.width() <= MAX_SIZE[0] and chooser.height() <= MAX_SIZE[1]  # fits 1366×768
    assert "Choose one to open" in panel.message_label.text()

    with qtbot.waitSignal(panel.structure_changed, timeout=20_000):
        chooser.choose("3FT7")
    assert not chooser.isVisible()
    assert any(r[0] == "files" and r[2].endswith("/3FT7.cif.gz") for r in target_services.requests)
    assert [lig.name for lig in panel.structure.ligands] == ["LIG"]


def test_a_failed_lookup_names_the_service(panel, qtbot, notifier, target_services):
    target_services.fail["uniprot"] = 500
    job = panel.fetch("EGFR")
    with qtbot.waitSignal(job.failed, timeout=20_000):
        pass
    assert notifier.errors[-1].startswith("UniProt answered HTTP 500")
    assert "UniProt answered HTTP 500" in panel.message_label.text()
    assert panel.target_chooser is None


def test_another_organism_looks_the_gene_up_again(panel, qtbot, notifier, target_services):
    job = panel.fetch("EGFR")
    with qtbot.waitSignal(job.finished, timeout=20_000):
        pass
    chooser = panel.target_chooser
    index = chooser.organism_box.findData(10090)
    with qtbot.waitSignal(panel.jobs.failed, timeout=20_000):
        chooser.organism_box.activated.emit(index)
    query = target_services.requests[-1][2]
    assert "gene_exact%3AEGFR" in query and "organism_id%3A10090" in query
    assert "UniProt has no mouse entry for gene 'EGFR'" in notifier.errors[-1]
