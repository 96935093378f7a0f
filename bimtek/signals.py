"""Events one feature announces and others act on, so a lower feature never imports a higher
one (accounts does not know attendance; learning does not know certificates). Receivers are
connected when their feature's module is imported (create_app imports every blueprint), and run
inside the sender's transaction: the sender's view commits once."""

from blinker import Namespace

_signals = Namespace()

# sender: the User just deactivated. Receivers return how many things they withdrew (an int).
account_deactivated = _signals.signal("account-deactivated")

# sender: the Course; kwargs: user. Something that can complete a course happened for this
# participant (a module read, a post-test graded, attendance marked, a pakta confirmed).
course_progress = _signals.signal("course-progress")

# sender: None. The office saved its settings or saw the sample certificate: certificates that
# waited for it may now be issued.
office_confirmed = _signals.signal("office-confirmed")

# sender: the new Office (flushed); kwargs: actor (a User, or None from the CLI). Receivers
# record it (the accounts feature audits; offices does not import accounts).
office_created = _signals.signal("office-created")

# sender: None. Region codes were imported: names an office's defaults come from may differ.
regions_imported = _signals.signal("regions-imported")
