# Production image of assb-lab: gunicorn for the web, the same image runs the Celery worker.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ASSB_VAR_DIR=/data/var MEDIA_ROOT=/data/media
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Plotly.js comes from the pinned plotly package (no CDN); a throwaway key is enough for collectstatic.
RUN SECRET_KEY=build-only python manage.py vendor_static \
 && SECRET_KEY=build-only python manage.py collectstatic --noinput -v 0
RUN useradd --create-home --uid 1000 lab && mkdir -p /data && chown -R lab /data
USER lab
EXPOSE 8000
CMD ["gunicorn", "assb_lab.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "300"]
