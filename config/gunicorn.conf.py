"""gunicorn settings shared by `make serve`, the Dockerfile, docker-compose.yml and CI.

Command-line flags (bind, workers) still override these.
"""

# gunicorn refuses request lines over 4 KB with an HTML page. Seams enforces its own URL
# limit (SEAMS_MAX_URI_LENGTH, incidents.api.middleware) so that clients get the API's JSON
# error shape; 0 lifts gunicorn's limit. Header sizes keep gunicorn's defaults.
limit_request_line = 0
