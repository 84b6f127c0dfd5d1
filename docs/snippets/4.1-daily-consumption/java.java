// 4.1: the register's consumption per day, days cut at midnight in Zurich.
// Run: java -cp /usr/share/java/gson.jar DailyConsumption.java
// (Java 17 or newer; Gson: Debian's libgoogle-gson-java, or gson.jar from Maven Central)
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParser;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

public class DailyConsumption {
    static final String API_URL = System.getenv().getOrDefault("ZEVVY_API_URL", "http://127.0.0.1:8000");
    // HTTP/1.1: over plain http, Java would otherwise ask to switch to HTTP/2, which not every server accepts.
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    static final Gson PRETTY = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();

    public static void main(String[] args) throws Exception {
        var token = JsonParser.parseString(Files.readString(Path.of("zevvy-token.json"))).getAsJsonObject();
        var registerId = JsonParser.parseString(Files.readString(Path.of("zevvy-import.json"))).getAsJsonObject()
                .getAsJsonObject("register").get("id").getAsString();
        var url = API_URL + "/registers/" + registerId + "/consumption"
                + "?from=2024-06-03&to=2024-06-04&interval=day&timeZone=Europe%2FZurich";
        var request = HttpRequest.newBuilder(URI.create(url))
                .header("Authorization", "Bearer " + token.get("access_token").getAsString())
                .build();
        var response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) throw new IllegalStateException(response.statusCode() + " " + response.body());

        var consumption = JsonParser.parseString(response.body());
        System.out.println(PRETTY.toJson(consumption));
    }
}
