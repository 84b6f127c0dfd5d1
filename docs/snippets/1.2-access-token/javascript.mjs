// 1.2: poll for the access token until the user has approved the device code.
// Run: node access-token.mjs (Node.js 18 or newer, no packages needed)
import { readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const authUrl = process.env.ZEVVY_AUTH_URL ?? "http://127.0.0.1:8000/realms/zevvy";
const clientId = process.env.ZEVVY_CLIENT_ID ?? "zevvy-cli";
const clientSecret = process.env.ZEVVY_CLIENT_SECRET; // not set for a public client

const authorization = JSON.parse(readFileSync("zevvy-device-authorization.json", "utf8"));
const form = new URLSearchParams({
  grant_type: "urn:ietf:params:oauth:grant-type:device_code",
  device_code: authorization.device_code,
  client_id: clientId,
});
if (clientSecret) form.set("client_secret", clientSecret);
let interval = authorization.interval;
for (;;) {
  const response = await fetch(`${authUrl}/protocol/openid-connect/token`, { method: "POST", body: form });
  const body = await response.text();
  if (response.ok) {
    writeFileSync("zevvy-token.json", body); // the next steps read the access token from here
    console.log(JSON.stringify(JSON.parse(body), null, 2));
    break;
  }
  const { error } = JSON.parse(body);
  if (error === "slow_down") interval += 5; // RFC 8628: poll 5 seconds slower from now on
  else if (error !== "authorization_pending") throw new Error(`${response.status} ${body}`);
  await sleep(interval * 1000);
}
