"""The Azure Storage REST APIs (Blob, Queue, Table) served from the embedded store, as Azurite serves them.

Path-style URLs for the development account (``http://127.0.0.1:10000/devstoreaccount1/<container>/<blob>``), so
the Storage SDKs with ``UseDevelopmentStorage=true``, SDK-type bindings and tools such as Storage Explorer see the
same blobs, messages and entities as the bindings and triggers.

- :mod:`.services`: the table of services (name, default port, the module of its handler, its error format).
- :mod:`.request`: a parsed request (:class:`StorageRequest`) and the reply (:class:`StorageResponse`).
- :mod:`.errors`: Azure's error replies (status, ``x-ms-error-code``, XML for blob/queue, JSON for table).
- :mod:`.auth`: SharedKey, SharedKeyLite and SAS (account and service) checked as Azure checks them.
- :mod:`.asgi`: the ASGI app of one service: parse, authenticate, hand to the service's handler, answer.
- :mod:`.endpoints`: settings (on/off, address, ports) and binding the listening sockets once.
- :mod:`.hosting`: serving the endpoints in an instance of ``overcast start`` or alone (``overcast storage``).
"""
