<?php
// 3.1: send readings by device and register reference, as gateways do.
// Run: php readings-by-reference.php (PHP 8 with the curl extension)
$apiUrl = getenv('ZEVVY_API_URL') ?: 'http://127.0.0.1:8000';

$token = json_decode(file_get_contents('zevvy-token.json'));
$deviceRef = rawurlencode('garage/wallbox 1'); // each reference is one path segment
$registerRef = rawurlencode('connector 2');
$readings = [
    ['readAt' => '2024-06-03T16:00:00Z', 'value' => 310000],
    ['readAt' => '2024-06-03T16:15:00Z', 'value' => 312750],
    ['readAt' => '2024-06-03T16:30:00Z', 'value' => 315500],
    ['readAt' => '2024-06-03T16:45:00Z', 'value' => 318250],
];
$curl = curl_init("$apiUrl/deviceRef/$deviceRef/registerRef/$registerRef/measurements/_bulk_create");
curl_setopt_array($curl, [
    CURLOPT_HTTPHEADER => ["Authorization: Bearer $token->access_token", 'Content-Type: application/json'],
    CURLOPT_POSTFIELDS => json_encode($readings),
    CURLOPT_RETURNTRANSFER => true,
]);
$body = curl_exec($curl) or throw new RuntimeException(curl_error($curl));
$status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
if ($status !== 201 && $status !== 409) { // 409: stored, but some readings differ from stored ones
    throw new RuntimeException("$status $body");
}

echo json_encode(json_decode($body), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
