// 1.2: poll for the access token until the user has approved the device code.
// Run: java -cp /usr/share/java/gson.jar AccessToken.java
// (Java 17 or newer; Gson: Debian's libgoogle-gson-java, or gson.jar from Maven Central)
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParser;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

public class AccessToken {
    static final String AUTH_URL = System.getenv().getOrDefault("ZEVVY_AUTH_URL", "http://127.0.0.1:8000/realms/zevvy");
    static final String CLIENT_ID = System.getenv().getOrDefault("ZEVVY_CLIENT_ID", "zevvy-cli");
    static final String CLIENT_SECRET = System.getenv("ZEVVY_CLIENT_SECRET"); // not set for a public client
    // HTTP/1.1: over plain http, Java would otherwise ask to switch to HTTP/2, which not every server accepts.
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    static final Gson PRETTY = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();

    public static void main(String[] args) throws Exception {
        var authorization = JsonParser.parseString(Files.readString(Path.of("zevvy-device-authorization.json")))
                .getAsJsonObject();
        var form = new LinkedHashMap<String, String>();
        form.put("grant_type", "urn:ietf:params:oauth:grant-type:device_code");
        form.put("device_code", authorization.get("device_code").getAsString());
        form.put("client_id", CLIENT_ID);
        if (CLIENT_SECRET != null && !CLIENT_SECRET.isEmpty()) form.put("client_secret", CLIENT_SECRET);
        var request = HttpRequest.newBuilder(URI.create(AUTH_URL + "/protocol/openid-connect/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(urlEncode(form)))
                .build();
        var interval = authorization.get("interval").getAsInt();
        while (true) {
            var response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 200) {
                Files.writeString(Path.of("zevvy-token.json"), response.body()); // the next steps read it
                var token = JsonParser.parseString(response.body());
                System.out.println(PRETTY.toJson(token));
                return;
            }
            var error = JsonParser.parseString(response.body()).getAsJsonObject().get("error").getAsString();
            if (error.equals("slow_down")) {
                interval += 5; // RFC 8628: poll 5 seconds slower from now on
            } else if (!error.equals("authorization_pending")) {
                throw new IllegalStateException(response.statusCode() + " " + response.body());
            }
            Thread.sleep(interval * 1000L);
        }
    }

    static String urlEncode(Map<String, String> form) {
        return form.entrySet().stream()
                .map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "="
                        + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
    }
}
