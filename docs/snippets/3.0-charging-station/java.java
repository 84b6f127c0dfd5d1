// 3.0: send one day of 15-minute meter readings of a charging station, by device and register name.
// Run: java -cp /usr/share/java/gson.jar ChargingStation.java
// (Java 17 or newer; Gson: Debian's libgoogle-gson-java, or gson.jar from Maven Central)
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

public class ChargingStation {
    static final String API_URL = System.getenv().getOrDefault("ZEVVY_API_URL", "http://127.0.0.1:8000");
    // HTTP/1.1: over plain http, Java would otherwise ask to switch to HTTP/2, which not every server accepts.
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    static final Gson PRETTY = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();

    public static void main(String[] args) throws Exception {
        var token = JsonParser.parseString(Files.readString(Path.of("zevvy-token.json"))).getAsJsonObject();
        var midnight = Instant.parse("2024-06-02T22:00:00Z"); // 3 June 2024, 00:00 in Zurich (UTC+2 in summer)
        var measurements = new JsonArray();
        for (int quarter = 0; quarter <= 96; quarter++) { // 00:00, 00:15, ... 24:00: the meter total in Wh
            int charging = Math.min(Math.max(quarter - 72, 0), 12); // a car charges 18:00-21:00 at 11 kW
            var reading = new JsonObject();
            reading.addProperty("readAt", midnight.plusSeconds(900L * quarter).toString());
            reading.addProperty("value", 1_520_000 + 2750 * charging);
            measurements.add(reading);
        }
        var series = new JsonObject();
        series.addProperty("deviceName", "zevvy Test Device Example Charging Station");
        series.addProperty("registerName", "zevvy Test Register Example Charging Station");
        series.add("measurements", measurements);
        var request = HttpRequest.newBuilder(URI.create(API_URL + "/measurements/_bulk_create"))
                .header("Authorization", "Bearer " + token.get("access_token").getAsString())
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(series.toString()))
                .build();
        var response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        // 409: stored, but some readings differ from stored ones (see "conflicts")
        if (response.statusCode() != 201 && response.statusCode() != 409) {
            throw new IllegalStateException(response.statusCode() + " " + response.body());
        }

        Files.writeString(Path.of("zevvy-import.json"), response.body()); // steps 4.0 and 4.1 read it
        var result = JsonParser.parseString(response.body());
        System.out.println(PRETTY.toJson(result));
    }
}
