"""`python -m search.report`: see search/report/page.py."""

from search.report.page import main

if __name__ == "__main__":
    raise SystemExit(main())
