<?php
// 2.0: create a device with a name and a reference of your own.
// Run: php create-device.php (PHP 8 with the curl extension)
$apiUrl = getenv('ZEVVY_API_URL') ?: 'http://127.0.0.1:8000';

$token = json_decode(file_get_contents('zevvy-token.json'));
$device = ['name' => 'zevvy Test Device Example Charging Station', 'reference' => 'garage/wallbox 1'];
$curl = curl_init("$apiUrl/devices");
curl_setopt_array($curl, [
    CURLOPT_HTTPHEADER => ["Authorization: Bearer $token->access_token", 'Content-Type: application/json'],
    CURLOPT_POSTFIELDS => json_encode($device),
    CURLOPT_RETURNTRANSFER => true,
]);
$body = curl_exec($curl) or throw new RuntimeException(curl_error($curl));
$status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
if ($status !== 201) {
    throw new RuntimeException("$status $body");
}

echo json_encode(json_decode($body), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
