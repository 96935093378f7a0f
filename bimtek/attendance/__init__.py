"""Face-to-face bimtek sessions: invitations, phone check-in with a rotating code, manual
marking by trainers, and the daftar hadir."""
