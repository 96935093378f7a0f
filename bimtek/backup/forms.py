from flask_wtf import FlaskForm


class BackupNowForm(FlaskForm):
    """ "Buat cadangan sekarang": nothing but the CSRF token."""
