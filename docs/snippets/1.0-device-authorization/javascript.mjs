// 1.0: ask for a device code, then show where the user approves it.
// Run: node device-authorization.mjs (Node.js 18 or newer, no packages needed)
import { writeFileSync } from "node:fs";

const authUrl = process.env.ZEVVY_AUTH_URL ?? "http://127.0.0.1:8000/realms/zevvy";
const clientId = process.env.ZEVVY_CLIENT_ID ?? "zevvy-cli";
const clientSecret = process.env.ZEVVY_CLIENT_SECRET; // not set for a public client

const form = new URLSearchParams({ client_id: clientId, scope: "offline_access measurement register device" });
if (clientSecret) form.set("client_secret", clientSecret);
const response = await fetch(`${authUrl}/protocol/openid-connect/auth/device`, { method: "POST", body: form });
const body = await response.text();
if (!response.ok) throw new Error(`${response.status} ${body}`);

writeFileSync("zevvy-device-authorization.json", body); // step 1.2 reads the device code from here
const answer = JSON.parse(body);
console.log(JSON.stringify(answer, null, 2));
console.error(`Open ${answer.verification_uri_complete} and approve the code ${answer.user_code}.`);
