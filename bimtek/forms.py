"""Form pieces every feature uses (a feature's own forms live in its forms.py)."""

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (badan, kecamatan, trainers …) instead of a multi-select box."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
