"""The app-neutral ingest of data files: claim, lease, progress, failure, sweep (`ingest.machinery`), the
handlers each data app plugs in per file kind, and the "a cell's data changed" signal (`ingest.signals`).

Not a Django app of its own: it owns no model. The DataFile model it drives stays in `cycling` (moving a
model between apps means a data migration for no gain today); `cycling` hands it over with
`machinery.use_model(DataFile)` from its AppConfig.ready, so this package imports no data app.
"""
