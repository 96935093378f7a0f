"""Completion rule and certificates: who finished a course, numbered and verifiable PDFs."""
