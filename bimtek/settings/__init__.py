"""Office settings: the office's identity on official documents, its time zone, the public URL."""
