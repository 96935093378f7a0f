# gunicorn reads ./gunicorn.conf.py when started from the checkout: bimtek's settings
# (one worker unless sign-in counters are shared; see bimtek/gunicorn_conf.py).
from bimtek.gunicorn_conf import *  # noqa: F403
