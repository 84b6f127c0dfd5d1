// 2.0: create a device with a name and a reference of your own.
// Run: node create-device.mjs (Node.js 18 or newer, no packages needed)
import { readFileSync } from "node:fs";

const apiUrl = process.env.ZEVVY_API_URL ?? "http://127.0.0.1:8000";

const token = JSON.parse(readFileSync("zevvy-token.json", "utf8"));
const response = await fetch(`${apiUrl}/devices`, {
  method: "POST",
  headers: { Authorization: `Bearer ${token.access_token}`, "Content-Type": "application/json" },
  body: JSON.stringify({ name: "zevvy Test Device Example Charging Station", reference: "garage/wallbox 1" }),
});
const body = await response.text();
if (!response.ok) throw new Error(`${response.status} ${body}`);

console.log(JSON.stringify(JSON.parse(body), null, 2));
