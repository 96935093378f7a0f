"""Offices (satker): KPU RI, KPU Provinsi and KPU Kabupaten/Kota, each over its wilayah.

Every staff account, participant, course, module, session, certificate, import, job and audit
entry belongs to one office; `scope.py` is the one place that says who sees and changes what."""
