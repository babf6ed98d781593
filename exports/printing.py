"""Print an HTML page to PDF with WeasyPrint, in a child process that has a deadline.

WeasyPrint's layout is fast for ordinary reviews (a long one prints in a second or two), but
some shapes of text cost far more than their size: one 100,000-character section written as
a table of 16,000 rows took three minutes here, a paragraph of 24,000 line breaks a minute
and a half. A web worker must not be held that long, so the printing runs in a process of its
own that is killed at the deadline, and a memory ceiling keeps it from taking the machine.

Run as a script (`python printing.py STYLESHEET`), this module reads the HTML on standard
input and writes the PDF to standard output. It imports nothing from Seams or Django, only
WeasyPrint: starting the child costs about half a second of CPU.

Nothing is fetched while printing: the URL fetcher refuses every URL, so an image in a review
(`![](https://…)`) cannot make the server fetch anything; the PDF shows its alternative text.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# The child's address-space ceiling: a long review prints in a few hundred megabytes.
MEMORY_LIMIT_BYTES = 2 * 1024**3


class PrintTimeout(Exception):
    """The page did not print within its deadline (the child was killed)."""


class PrintFailed(Exception):
    """The child ended without a PDF; the message is the end of what it said."""


class PrinterMissing(Exception):
    """WeasyPrint, or a system library it loads (Pango), is not installed here."""


# The child's exit status when it cannot import WeasyPrint.
MISSING = 3


def print_pdf(html: str, *, stylesheet: Path, seconds: float) -> bytes:
    """The PDF of `html` styled by `stylesheet`, printed by a child process that is killed
    after `seconds`."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", str(Path(__file__).resolve()), str(stylesheet)],
            input=html.encode(),
            capture_output=True,
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired as late:
        raise PrintTimeout(f"printing took longer than {seconds:g} seconds") from late
    said = done.stderr.decode(errors="replace").strip().splitlines()
    last = said[-1] if said else f"the printer exited with {done.returncode}"
    if done.returncode == MISSING:
        raise PrinterMissing(last)
    if done.returncode != 0 or not done.stdout.startswith(b"%PDF-"):
        raise PrintFailed(last)
    return done.stdout


def _limit_memory() -> None:
    try:
        import resource
    except ImportError:  # not on every platform; the deadline still holds
        return
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def _main() -> None:
    """Read HTML on stdin, write its PDF on stdout, styled by the stylesheet named as the
    argument (the child's side of `print_pdf`)."""
    _limit_memory()
    try:
        import weasyprint
    except ImportError as missing:
        print(f"WeasyPrint is not installed ({missing}).", file=sys.stderr)
        sys.exit(MISSING)
    except OSError as missing:  # WeasyPrint is there, a system library it loads is not
        print(f"WeasyPrint cannot load Pango ({missing}).", file=sys.stderr)
        sys.exit(MISSING)

    class RefusingFetcher(weasyprint.URLFetcher):
        """Fetches nothing: every URL (http, file, data) is refused."""

        def fetch(self, url, headers=None):
            raise ValueError("Seams fetches nothing while printing an export.")

    html = sys.stdin.buffer.read().decode()
    style = weasyprint.CSS(string=Path(sys.argv[1]).read_text(), url_fetcher=RefusingFetcher())
    page = weasyprint.HTML(string=html, base_url=None, url_fetcher=RefusingFetcher())
    sys.stdout.buffer.write(page.write_pdf(stylesheets=[style]))


if __name__ == "__main__":
    _main()
