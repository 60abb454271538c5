import json
import urllib.request


def test_server_starts_and_reports_health(make_deployment, start_server):
    server = start_server(make_deployment())
    with urllib.request.urlopen(server.url + "/api/health") as r:
        body = json.load(r)
    assert body["status"] == "ok"
