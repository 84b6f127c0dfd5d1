// 4.1: the register's consumption per day, days cut at midnight in Zurich.
// Run: node daily-consumption.mjs (Node.js 18 or newer, no packages needed)
import { readFileSync } from "node:fs";

const apiUrl = process.env.ZEVVY_API_URL ?? "http://127.0.0.1:8000";

const token = JSON.parse(readFileSync("zevvy-token.json", "utf8"));
const registerId = JSON.parse(readFileSync("zevvy-import.json", "utf8")).register.id;
const query = new URLSearchParams({ from: "2024-06-03", to: "2024-06-04", interval: "day", timeZone: "Europe/Zurich" });
const response = await fetch(`${apiUrl}/registers/${registerId}/consumption?${query}`, {
  headers: { Authorization: `Bearer ${token.access_token}` },
});
const body = await response.text();
if (!response.ok) throw new Error(`${response.status} ${body}`);

console.log(JSON.stringify(JSON.parse(body), null, 2));
