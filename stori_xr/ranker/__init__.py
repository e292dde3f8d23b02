"""The learned parts of STORI (PyTorch, imported lazily).

Importing this package, :mod:`~stori_xr.ranker.inputs`, :mod:`~stori_xr.ranker.weights`
or :mod:`~stori_xr.ranker.method` never imports torch; :mod:`~stori_xr.ranker.rnn`,
:mod:`~stori_xr.ranker.train` and :mod:`~stori_xr.ranker.runtime` do, and are imported
only when a learned method fits or runs.

- :mod:`~stori_xr.ranker.method`: ``method="stori-rnn"``, the published STORI network
  as a comparator (its block function, fit hook and options, registered in
  :data:`stori_xr.fill.METHODS`).
- :mod:`~stori_xr.ranker.inputs`: what the network reads, from the aligned arrays
  (numpy): smoothed SAR features, days since the last clear value, normalised bands.
- :mod:`~stori_xr.ranker.weights`: a fitted model as plain arrays and bytes (save,
  load, hash), without torch.
- :mod:`~stori_xr.ranker.rnn`: the network.
- :mod:`~stori_xr.ranker.train`: its self-supervised fit on the target.
- :mod:`~stori_xr.ranker.runtime`: inference inside dask tasks: one model per worker
  process (cached by the weights' hash), one torch thread per dask thread, CUDA when
  present.
"""
