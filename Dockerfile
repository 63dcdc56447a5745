# The application image: web (gunicorn), the Celery pools and beat all run from it
# (docker-compose.yml gives each its Procfile command).
FROM python:3.11.13-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Static files, hashed and compressed, served by WhiteNoise when no static bucket is set.
# Collecting needs no secret and no service.
RUN DJANGO_ENV_FILE=/dev/null DJANGO_DEBUG=true python manage.py collectstatic --noinput \
    && useradd --create-home app \
    && mkdir -p /var/run/linkdist-metrics \
    && chown -R app /app/staticfiles /var/run/linkdist-metrics
USER app
EXPOSE 8000
CMD ["gunicorn", "project.wsgi:application", "--config", "python:project.gunicorn_conf"]
