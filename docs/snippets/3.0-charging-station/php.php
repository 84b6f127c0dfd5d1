<?php
// 3.0: send one day of 15-minute meter readings of a charging station, by device and register name.
// Run: php charging-station.php (PHP 8 with the curl extension)
$apiUrl = getenv('ZEVVY_API_URL') ?: 'http://127.0.0.1:8000';

$token = json_decode(file_get_contents('zevvy-token.json'));
$midnight = strtotime('2024-06-02T22:00:00Z'); // 3 June 2024, 00:00 in Zurich (UTC+2 in summer)
$measurements = [];
for ($quarter = 0; $quarter <= 96; $quarter++) { // 00:00, 00:15, ... 24:00: the meter total in Wh
    $charging = min(max($quarter - 72, 0), 12); // a car charges 18:00-21:00 at 11 kW
    $readAt = gmdate('Y-m-d\TH:i:s\Z', $midnight + 900 * $quarter);
    $measurements[] = ['readAt' => $readAt, 'value' => 1520000 + 2750 * $charging];
}
$series = [
    'deviceName' => 'zevvy Test Device Example Charging Station',
    'registerName' => 'zevvy Test Register Example Charging Station',
    'measurements' => $measurements,
];
$curl = curl_init("$apiUrl/measurements/_bulk_create");
curl_setopt_array($curl, [
    CURLOPT_HTTPHEADER => ["Authorization: Bearer $token->access_token", 'Content-Type: application/json'],
    CURLOPT_POSTFIELDS => json_encode($series),
    CURLOPT_RETURNTRANSFER => true,
]);
$body = curl_exec($curl) or throw new RuntimeException(curl_error($curl));
$status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
if ($status !== 201 && $status !== 409) { // 409: stored, but some readings differ from stored ones
    throw new RuntimeException("$status $body");
}

file_put_contents('zevvy-import.json', $body); // steps 4.0 and 4.1 read the register's id from here
echo json_encode(json_decode($body), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
