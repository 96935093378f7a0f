"""Evaluasi penyelenggaraan dan narasumber: participants rate a session they attended."""
