"""The durable HTTP API (the ``/runtime/webhooks/durabletask`` routes and the client binding's channel): parsing
requests, shaping status JSON and the durable client binding's JSON.
"""
