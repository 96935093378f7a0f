"""Time zones of Indonesia's provinces: an office's default zone comes from its province."""

WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"

# Keppres 41/1987 (Pembagian Wilayah Republik Indonesia menjadi 3 Wilayah Waktu, in force since
# 1 January 1988): WIB = every province of Sumatra and Jawa/Madura, Kalimantan Barat and
# Kalimantan Tengah; WITA = Kalimantan Timur and Selatan (Kalimantan Utara was split from Timur
# in 2012), Bali, NTB, NTT and every Sulawesi province; WIT = Maluku, Maluku Utara and every
# Papua province (the four of 2022 were split from Papua and Papua Barat). Province codes from
# the Kemendagri 2025 list (/work/shared/data/wilayah-kemendagri-2025.csv): 93 is Papua Selatan;
# there is no 97. Every other province code is WIB.
WITA_PROVINCES = frozenset({"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"})
WIT_PROVINCES = frozenset({"81", "82", "91", "92", "93", "94", "95", "96"})


def zone_for_province(provinsi_kode: str) -> str:
    """The zone of a province (the first two digits of any Kemendagri code)."""
    prefix = (provinsi_kode or "")[:2]
    if prefix in WITA_PROVINCES:
        return WITA
    if prefix in WIT_PROVINCES:
        return WIT
    return WIB
