<?php
// 1.0: ask for a device code, then show where the user approves it.
// Run: php device-authorization.php (PHP 8 with the curl extension)
$authUrl = getenv('ZEVVY_AUTH_URL') ?: 'http://127.0.0.1:8000/realms/zevvy';
$clientId = getenv('ZEVVY_CLIENT_ID') ?: 'zevvy-cli';
$clientSecret = getenv('ZEVVY_CLIENT_SECRET'); // not set for a public client

$form = ['client_id' => $clientId, 'scope' => 'offline_access measurement register device'];
if ($clientSecret) {
    $form['client_secret'] = $clientSecret;
}
$curl = curl_init("$authUrl/protocol/openid-connect/auth/device");
curl_setopt_array($curl, [CURLOPT_POSTFIELDS => http_build_query($form), CURLOPT_RETURNTRANSFER => true]);
$body = curl_exec($curl) or throw new RuntimeException(curl_error($curl));
$status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
if ($status !== 200) {
    throw new RuntimeException("$status $body");
}

file_put_contents('zevvy-device-authorization.json', $body); // step 1.2 reads the device code from here
$answer = json_decode($body);
echo json_encode($answer, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
fwrite(STDERR, "Open $answer->verification_uri_complete and approve the code $answer->user_code.\n");
