"""B-Connect core: plugin host, configuration, storage, accounts and the media services every plugin shares."""
