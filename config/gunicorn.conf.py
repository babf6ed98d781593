"""gunicorn settings shared by `make serve`, the Dockerfile, docker-compose.yml and CI.

Command-line flags (bind, workers) still override these.
"""

import gc

# gunicorn refuses request lines over 4 KB with an HTML page. Seams enforces its own URL
# limit (SEAMS_MAX_URI_LENGTH, incidents.api.middleware) so that clients get the API's JSON
# error shape; 0 lifts gunicorn's limit.
limit_request_line = 0
# gunicorn refuses a header over 8 KB with an HTML 431, so a bot sending a long (wrong)
# token could not read why. Up to 64 KB (the development server's own line limit) the
# request reaches Seams, whose token check answers 401 in the JSON error shape.
limit_request_field_size = 65536


def post_worker_init(worker) -> None:
    """Move everything loaded at start-up out of the garbage collector's sight.

    Django, DRF and the URL and template caches are a few hundred thousand long-lived
    objects; each full collection walked all of them, and those pauses were the slowest
    percentile of API answers. Frozen, they are never scanned again.
    """
    gc.collect()
    gc.freeze()
