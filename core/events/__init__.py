"""Events: what analytics saw, stored, delivered to sinks through an outbox, pushed live, acknowledged.

``types`` holds the one event type; ``store`` its rows; ``bus`` the service
that stores then fans out; ``outbox`` delivery to sinks; ``live`` the bounded
per-client queues behind the server-sent event stream; ``api`` the HTTP routes.
"""
