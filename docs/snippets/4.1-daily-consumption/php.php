<?php
// 4.1: the register's consumption per day, days cut at midnight in Zurich.
// Run: php daily-consumption.php (PHP 8 with the curl extension)
$apiUrl = getenv('ZEVVY_API_URL') ?: 'http://127.0.0.1:8000';

$token = json_decode(file_get_contents('zevvy-token.json'));
$registerId = json_decode(file_get_contents('zevvy-import.json'))->register->id;
$query = http_build_query(['from' => '2024-06-03', 'to' => '2024-06-04', 'interval' => 'day', 'timeZone' => 'Europe/Zurich']);
$curl = curl_init("$apiUrl/registers/$registerId/consumption?$query");
curl_setopt_array($curl, [
    CURLOPT_HTTPHEADER => ["Authorization: Bearer $token->access_token"],
    CURLOPT_RETURNTRANSFER => true,
]);
$body = curl_exec($curl) or throw new RuntimeException(curl_error($curl));
$status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
if ($status !== 200) {
    throw new RuntimeException("$status $body");
}

echo json_encode(json_decode($body), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
