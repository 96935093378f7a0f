"""Imbauan: circulars an office sends to the badan and wilayah below it, with read receipts."""
