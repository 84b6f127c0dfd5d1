// 4.1: the register's consumption per day, days cut at midnight in Zurich.
// Run: java -cp gson.jar DailyConsumption.java (Java 17 or newer; Gson: Debian's libgoogle-gson-java)
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

    public static void main(String[] args) throws Exception {
        var token = JsonParser.parseString(Files.readString(Path.of("zevvy-token.json"))).getAsJsonObject();
        var registerId = JsonParser.parseString(Files.readString(Path.of("zevvy-import.json"))).getAsJsonObject()
                .getAsJsonObject("register").get("id").getAsString();
        var url = API_URL + "/registers/" + registerId + "/consumption"
                + "?from=2024-06-03&to=2024-06-04&interval=day&timeZone=Europe%2FZurich";
        var request = HttpRequest.newBuilder(URI.create(url))
                .header("Authorization", "Bearer " + token.get("access_token").getAsString())
                .build();
        var response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) throw new IllegalStateException(response.statusCode() + " " + response.body());

        var consumption = JsonParser.parseString(response.body());
        System.out.println(new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(consumption));
    }
}
