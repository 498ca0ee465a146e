def test_healthz_reports_database_and_version(client):
    response = client.get("/healthz")
    body = response.get_json()
    assert body["database"] == "ok"
    assert body["scheduler"] == "disabled in config"
    assert "version" in body
