package dev.continuum.interop;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.flink.statefun.sdk.java.handler.RequestReplyHandler;
import org.apache.flink.statefun.sdk.java.slice.Slice;
import org.apache.flink.statefun.sdk.java.slice.Slices;

/**
 * Serves the functions on 127.0.0.1:&lt;port&gt; (first argument, else $PORT): a POST on any path is a
 * StateFun ToFunction request, answered with the SDK's FromFunction reply. Logs go to stderr.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws IOException {
    String raw = args.length > 0 ? args[0] : System.getenv("PORT");
    if (raw == null || raw.isBlank()) {
      System.err.println("usage: Main <port> (or set PORT)");
      System.exit(2);
    }
    int port = Integer.parseInt(raw.trim());
    RequestReplyHandler handler = Functions.all().requestReplyHandler();
    ExecutorService executor = Executors.newFixedThreadPool(4);
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
    server.createContext("/", exchange -> handle(handler, exchange));
    server.setExecutor(executor);
    server.start();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.stop(0);
                  executor.shutdownNow();
                }));
    System.err.println("java functions listening on http://127.0.0.1:" + port);
  }

  private static void handle(RequestReplyHandler handler, HttpExchange exchange) throws IOException {
    if (!"POST".equals(exchange.getRequestMethod())) {
      reply(exchange, 405, "POST a ToFunction request\n".getBytes(StandardCharsets.UTF_8));
      return;
    }
    byte[] body;
    try (InputStream in = exchange.getRequestBody()) {
      body = in.readAllBytes();
    }
    Slice response;
    try {
      response = handler.handle(Slices.wrap(body)).join();
    } catch (RuntimeException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      System.err.println("invocation failed on " + exchange.getRequestURI() + ": " + cause);
      cause.printStackTrace();
      reply(exchange, 500, (cause + "\n").getBytes(StandardCharsets.UTF_8));
      return;
    }
    exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
    reply(exchange, 200, response.toByteArray());
  }

  private static void reply(HttpExchange exchange, int status, byte[] body) throws IOException {
    exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }
}
