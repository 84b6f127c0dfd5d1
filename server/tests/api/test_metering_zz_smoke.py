import httpx, json


def test_smoke(live_server, api_token):
    tok = api_token()
    c = httpx.Client(timeout=30, base_url=live_server.url, headers={"Authorization": f"Bearer {tok}"})
    r = c.post("/devices", json={"Name": "Dev A", "Reference": "eliona Zähler/7"})
    print(r.status_code, r.text)
    dev = r.json()
    r = c.get("/deviceRef/eliona%20Z%C3%A4hler%2F7")
    print(r.status_code, r.text)
    r = c.post(f"/devices/{dev['id']}/registers", json={"name": "R1", "reference": "power in/out"})
    print(r.status_code, r.text)
    body = [{"readAt": "2024-03-31T00:00:00.000Z", "value": 100}, {"readAt": "2024-03-31T00:15:00.000Z", "value": 101.5}]
    r = c.post("/deviceRef/eliona%20Z%C3%A4hler%2F7/registerRef/power%20in%2Fout/measurements/_bulk_create", json=body)
    print(r.status_code, r.text)
    r = c.post("/deviceRef/eliona%20Z%C3%A4hler%2F7/registerRef/power%20in%2Fout/measurements/_bulk_create", json=body)
    print(r.status_code, r.text)
    body[1]["value"] = 102
    body.append({"readAt": "2024-03-31T00:30:00Z", "value": 103})
    r = c.post("/deviceRef/eliona%20Z%C3%A4hler%2F7/registerRef/power%20in%2Fout/measurements/_bulk_create", json=body)
    print(r.status_code, r.text)
    r = c.post("/measurements/_bulk_create", json={"deviceName": "zevvy Test Device", "registerName": "zevvy Test Register", "measurements": body})
    print(r.status_code, r.text)
    r = c.get(f"/registers/{r.json()['register']['id']}/measurements", params={"format": "csv", "delimiter": ";"})
    print(r.status_code, r.text)
    r = c.get("/devices")
    print(r.status_code, r.text)
    r = c.get("/openapi.json")
    print(r.status_code, len(r.text)); c.close()
