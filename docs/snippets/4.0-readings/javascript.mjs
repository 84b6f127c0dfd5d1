// 4.0: read back the stored readings of the charging station's register for one hour.
// Run: node readings.mjs (Node.js 18 or newer, no packages needed)
import { readFileSync } from "node:fs";

const apiUrl = process.env.ZEVVY_API_URL ?? "http://127.0.0.1:8000";

const token = JSON.parse(readFileSync("zevvy-token.json", "utf8"));
const registerId = JSON.parse(readFileSync("zevvy-import.json", "utf8")).register.id;
const query = new URLSearchParams({ from: "2024-06-03T16:00:00Z", to: "2024-06-03T17:00:00Z" });
const response = await fetch(`${apiUrl}/registers/${registerId}/measurements?${query}`, {
  headers: { Authorization: `Bearer ${token.access_token}` },
});
const body = await response.text();
if (!response.ok) throw new Error(`${response.status} ${body}`);

console.log(JSON.stringify(JSON.parse(body), null, 2));
