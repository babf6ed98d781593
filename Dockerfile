# The Seams image: one image for web (gunicorn), worker and beat; docker-compose.yml picks the
# command. Dependencies are the pinned requirements.txt, installed before the code for caching.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.base

WORKDIR /app
# PDF exports: WeasyPrint lays pages out with Pango and HarfBuzz, in the DejaVu fonts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# A throw-away key: collectstatic signs nothing, but the settings refuse a weak key.
RUN SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))') \
    python manage.py collectstatic --noinput

RUN useradd --system --home /app seams && chown -R seams /app
USER seams

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
