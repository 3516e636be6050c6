"""Event Grid: the ``eventGridTrigger`` trigger and ``eventGrid`` output, local topics and their subscriptions.

- ``events``: the two event schemas (Event Grid, CloudEvents 1.0), a trigger invocation's value and metadata,
  subscription filters, the retry schedule and dead-letter records (pure).
- ``config``: ``eventgrid.json``, the app's local topics and subscriptions.
- ``kind``: the binding kind (trigger and output) of :mod:`overcast.kinds`.
- ``webhook``: ``/runtime/webhooks/eventgrid`` (the trigger endpoint, and local topics' publish endpoint).
- ``delivery``: the listener that routes published events and delivers them, with retries and dead-lettering.
- ``publish``: sending events to a topic (a local one in the store, or any Event Grid-compatible endpoint).
- ``blob_events``: ``Microsoft.Storage.BlobCreated`` / ``BlobDeleted`` from the embedded blob store.
"""
