<?php
// 1.2: poll for the access token until the user has approved the device code.
// Run: php access-token.php (PHP 8 with the curl extension)
$authUrl = getenv('ZEVVY_AUTH_URL') ?: 'http://127.0.0.1:8000/realms/zevvy';
$clientId = getenv('ZEVVY_CLIENT_ID') ?: 'zevvy-cli';
$clientSecret = getenv('ZEVVY_CLIENT_SECRET'); // not set for a public client

$authorization = json_decode(file_get_contents('zevvy-device-authorization.json'));
$form = [
    'grant_type' => 'urn:ietf:params:oauth:grant-type:device_code',
    'device_code' => $authorization->device_code,
    'client_id' => $clientId,
];
if ($clientSecret) {
    $form['client_secret'] = $clientSecret;
}
$interval = $authorization->interval;
while (true) {
    $curl = curl_init("$authUrl/protocol/openid-connect/token");
    curl_setopt_array($curl, [CURLOPT_POSTFIELDS => http_build_query($form), CURLOPT_RETURNTRANSFER => true]);
    $body = curl_exec($curl) or throw new RuntimeException(curl_error($curl));
    $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
    if ($status === 200) {
        break;
    }
    $error = json_decode($body)->error ?? null;
    if ($error === 'slow_down') {
        $interval += 5; // RFC 8628: poll 5 seconds slower from now on
    } elseif ($error !== 'authorization_pending') {
        throw new RuntimeException("$status $body");
    }
    sleep($interval);
}

file_put_contents('zevvy-token.json', $body); // the next steps read the access token from here
echo json_encode(json_decode($body), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
