"""WSGI entry point (the site normally runs under daphne, see asgi.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heygem_site.settings")
application = get_wsgi_application()
