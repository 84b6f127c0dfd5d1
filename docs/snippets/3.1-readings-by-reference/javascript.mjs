// 3.1: send readings by device and register reference, as gateways do.
// Run: node readings-by-reference.mjs (Node.js 18 or newer, no packages needed)
import { readFileSync } from "node:fs";

const apiUrl = process.env.ZEVVY_API_URL ?? "http://127.0.0.1:8000";

const token = JSON.parse(readFileSync("zevvy-token.json", "utf8"));
const deviceRef = encodeURIComponent("garage/wallbox 1"); // each reference is one path segment
const registerRef = encodeURIComponent("connector 2");
const readings = [
  { readAt: "2024-06-03T16:00:00Z", value: 310000 },
  { readAt: "2024-06-03T16:15:00Z", value: 312750 },
  { readAt: "2024-06-03T16:30:00Z", value: 315500 },
  { readAt: "2024-06-03T16:45:00Z", value: 318250 },
];
const response = await fetch(`${apiUrl}/deviceRef/${deviceRef}/registerRef/${registerRef}/measurements/_bulk_create`, {
  method: "POST",
  headers: { Authorization: `Bearer ${token.access_token}`, "Content-Type": "application/json" },
  body: JSON.stringify(readings),
});
const body = await response.text();
// 409: stored, but some readings differ from stored ones (see "conflicts")
if (response.status !== 201 && response.status !== 409) throw new Error(`${response.status} ${body}`);

console.log(JSON.stringify(JSON.parse(body), null, 2));
