<?php
// 5.0: trade the refresh token for a new access token (and a new refresh token).
// Run: php refresh-token.php (PHP 8 with the curl extension)
$authUrl = getenv('ZEVVY_AUTH_URL') ?: 'http://127.0.0.1:8000/realms/zevvy';
$clientId = getenv('ZEVVY_CLIENT_ID') ?: 'zevvy-cli';
$clientSecret = getenv('ZEVVY_CLIENT_SECRET'); // not set for a public client

$token = json_decode(file_get_contents('zevvy-token.json'));
$form = ['grant_type' => 'refresh_token', 'refresh_token' => $token->refresh_token, 'client_id' => $clientId];
if ($clientSecret) {
    $form['client_secret'] = $clientSecret;
}
$curl = curl_init("$authUrl/protocol/openid-connect/token");
curl_setopt_array($curl, [CURLOPT_POSTFIELDS => http_build_query($form), CURLOPT_RETURNTRANSFER => true]);
$body = curl_exec($curl) or throw new RuntimeException(curl_error($curl));
$status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
if ($status !== 200) {
    throw new RuntimeException("$status $body");
}

file_put_contents('zevvy-token.json', $body); // the old refresh token is spent: keep the new one
echo json_encode(json_decode($body), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
