"""WSGI entry point for a container: `gunicorn -k gthread --threads 64 -w 1 callcare_web.wsgi:app`
(run `callcare-web init` once first, or use `callcare-web serve`)."""

from callcare_web.app import create_app

app = create_app()
