// 2.0: create a device with a name and a reference of your own.
// Run: java -cp /usr/share/java/gson.jar CreateDevice.java
// (Java 17 or newer; Gson: Debian's libgoogle-gson-java, or gson.jar from Maven Central)
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

public class CreateDevice {
    static final String API_URL = System.getenv().getOrDefault("ZEVVY_API_URL", "http://127.0.0.1:8000");
    // HTTP/1.1: over plain http, Java would otherwise ask to switch to HTTP/2, which not every server accepts.
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    static final Gson PRETTY = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();

    public static void main(String[] args) throws Exception {
        var token = JsonParser.parseString(Files.readString(Path.of("zevvy-token.json"))).getAsJsonObject();
        var device = new JsonObject();
        device.addProperty("name", "zevvy Test Device Example Charging Station");
        device.addProperty("reference", "garage/wallbox 1");
        var request = HttpRequest.newBuilder(URI.create(API_URL + "/devices"))
                .header("Authorization", "Bearer " + token.get("access_token").getAsString())
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(device.toString()))
                .build();
        var response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 201) throw new IllegalStateException(response.statusCode() + " " + response.body());

        var created = JsonParser.parseString(response.body());
        System.out.println(PRETTY.toJson(created));
    }
}
