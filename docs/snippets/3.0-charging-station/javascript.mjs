// 3.0: send one day of 15-minute meter readings of a charging station, by device and register name.
// Run: node charging-station.mjs (Node.js 18 or newer, no packages needed)
import { readFileSync, writeFileSync } from "node:fs";

const apiUrl = process.env.ZEVVY_API_URL ?? "http://127.0.0.1:8000";

const token = JSON.parse(readFileSync("zevvy-token.json", "utf8"));
const midnight = Date.parse("2024-06-02T22:00:00Z"); // 3 June 2024, 00:00 in Zurich (UTC+2 in summer)
const measurements = [];
for (let quarter = 0; quarter <= 96; quarter++) { // 00:00, 00:15, ... 24:00: the meter total in Wh
  const charging = Math.min(Math.max(quarter - 72, 0), 12); // a car charges 18:00-21:00 at 11 kW
  const readAt = new Date(midnight + quarter * 15 * 60 * 1000).toISOString();
  measurements.push({ readAt, value: 1_520_000 + 2750 * charging });
}
const response = await fetch(`${apiUrl}/measurements/_bulk_create`, {
  method: "POST",
  headers: { Authorization: `Bearer ${token.access_token}`, "Content-Type": "application/json" },
  body: JSON.stringify({
    deviceName: "zevvy Test Device Example Charging Station",
    registerName: "zevvy Test Register Example Charging Station",
    measurements,
  }),
});
const body = await response.text();
// 409: stored, but some readings differ from stored ones (see "conflicts")
if (response.status !== 201 && response.status !== 409) throw new Error(`${response.status} ${body}`);

writeFileSync("zevvy-import.json", body); // steps 4.0 and 4.1 read the register's id from here
console.log(JSON.stringify(JSON.parse(body), null, 2));
