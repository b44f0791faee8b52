"""Liveness and the published API description."""


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_openapi_documents_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/c/{short_code}", "/api/conversions", "/api/admin/import"} <= set(paths)
    body = paths["/api/conversions"]["post"]["requestBody"]["content"]["application/json"]
    assert "tracking_id" in body["schema"]["properties"]
