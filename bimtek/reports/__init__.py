"""Dashboards per kecamatan and desa, a participant's full record, and the rekap workbook."""
