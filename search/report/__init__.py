"""`python -m search.report`: an HTML + PNG report of a study (page.py), its views
(the latency/size trade-off, the export's decisions) and its templates."""
