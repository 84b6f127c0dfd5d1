// 3.1: send readings by device and register reference, as gateways do.
// Run: java -cp /usr/share/java/gson.jar ReadingsByReference.java
// (Java 17 or newer; Gson: Debian's libgoogle-gson-java, or gson.jar from Maven Central)
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

public class ReadingsByReference {
    static final String API_URL = System.getenv().getOrDefault("ZEVVY_API_URL", "http://127.0.0.1:8000");
    // HTTP/1.1: over plain http, Java would otherwise ask to switch to HTTP/2, which not every server accepts.
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    static final Gson PRETTY = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();

    public static void main(String[] args) throws Exception {
        var token = JsonParser.parseString(Files.readString(Path.of("zevvy-token.json"))).getAsJsonObject();
        var readings = new JsonArray();
        String[][] rows = {
            {"2024-06-03T16:00:00Z", "310000"}, {"2024-06-03T16:15:00Z", "312750"},
            {"2024-06-03T16:30:00Z", "315500"}, {"2024-06-03T16:45:00Z", "318250"},
        };
        for (var row : rows) {
            var reading = new JsonObject();
            reading.addProperty("readAt", row[0]);
            reading.addProperty("value", Long.parseLong(row[1]));
            readings.add(reading);
        }
        var url = API_URL + "/deviceRef/" + pathSegment("garage/wallbox 1")
                + "/registerRef/" + pathSegment("connector 2") + "/measurements/_bulk_create";
        var request = HttpRequest.newBuilder(URI.create(url))
                .header("Authorization", "Bearer " + token.get("access_token").getAsString())
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(readings.toString()))
                .build();
        var response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        // 409: stored, but some readings differ from stored ones (see "conflicts")
        if (response.statusCode() != 201 && response.statusCode() != 409) {
            throw new IllegalStateException(response.statusCode() + " " + response.body());
        }

        var result = JsonParser.parseString(response.body());
        System.out.println(PRETTY.toJson(result));
    }

    // A reference is one path segment: "/" becomes %2F and a space %20 (URLEncoder would write "+").
    static String pathSegment(String reference) {
        return URLEncoder.encode(reference, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
