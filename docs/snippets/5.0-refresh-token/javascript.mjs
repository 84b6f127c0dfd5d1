// 5.0: trade the refresh token for a new access token (and a new refresh token).
// Run: node refresh-token.mjs (Node.js 18 or newer, no packages needed)
import { readFileSync, writeFileSync } from "node:fs";

const authUrl = process.env.ZEVVY_AUTH_URL ?? "http://127.0.0.1:8000/realms/zevvy";
const clientId = process.env.ZEVVY_CLIENT_ID ?? "zevvy-cli";
const clientSecret = process.env.ZEVVY_CLIENT_SECRET; // not set for a public client

const token = JSON.parse(readFileSync("zevvy-token.json", "utf8"));
const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: token.refresh_token, client_id: clientId });
if (clientSecret) form.set("client_secret", clientSecret);
const response = await fetch(`${authUrl}/protocol/openid-connect/token`, { method: "POST", body: form });
const body = await response.text();
if (!response.ok) throw new Error(`${response.status} ${body}`);

writeFileSync("zevvy-token.json", body); // the old refresh token is spent: keep the new one
console.log(JSON.stringify(JSON.parse(body), null, 2));
