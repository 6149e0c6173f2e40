package dev.continuum.interop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.apache.flink.statefun.sdk.java.Address;
import org.apache.flink.statefun.sdk.java.Context;
import org.apache.flink.statefun.sdk.java.StatefulFunction;
import org.apache.flink.statefun.sdk.java.StatefulFunctionSpec;
import org.apache.flink.statefun.sdk.java.StatefulFunctions;
import org.apache.flink.statefun.sdk.java.TypeName;
import org.apache.flink.statefun.sdk.java.ValueSpec;
import org.apache.flink.statefun.sdk.java.io.KafkaEgressMessage;
import org.apache.flink.statefun.sdk.java.message.Message;
import org.apache.flink.statefun.sdk.java.message.MessageBuilder;
import org.apache.flink.statefun.sdk.java.types.SimpleType;
import org.apache.flink.statefun.sdk.java.types.Type;

/** The four functions of the interop test (see test/interop), written against the official Java SDK. */
public final class Functions {
  private Functions() {}

  static final ObjectMapper JSON = new ObjectMapper();

  static final TypeName COUNTER = TypeName.typeNameFromString("com.example/counter");
  static final TypeName SCHEDULER = TypeName.typeNameFromString("com.example/scheduler");
  static final TypeName RECORDER = TypeName.typeNameFromString("com.example/recorder");
  static final TypeName EXPIRING = TypeName.typeNameFromString("com.example/expiring");
  static final TypeName EGRESS = TypeName.typeNameFromString("com.example/out");

  static final Type<JsonNode> COMMAND = jsonType("com.example/Command");
  static final Type<JsonNode> NOTE = jsonType("com.example/Note");

  static final ValueSpec<Integer> COUNT = ValueSpec.named("count").withIntType();
  static final ValueSpec<Integer> SEEN =
      ValueSpec.named("seen").thatExpireAfterWrite(Duration.ofSeconds(1)).withIntType();

  private static Type<JsonNode> jsonType(String typeName) {
    return SimpleType.simpleImmutableTypeFrom(
        TypeName.typeNameFromString(typeName), JSON::writeValueAsBytes, JSON::readTree);
  }

  public static StatefulFunctions all() {
    StatefulFunctions functions = new StatefulFunctions();
    functions.withStatefulFunction(
        StatefulFunctionSpec.builder(COUNTER).withValueSpec(COUNT).withSupplier(Counter::new));
    functions.withStatefulFunction(
        StatefulFunctionSpec.builder(SCHEDULER).withSupplier(Scheduler::new));
    functions.withStatefulFunction(
        StatefulFunctionSpec.builder(RECORDER).withSupplier(Recorder::new));
    functions.withStatefulFunction(
        StatefulFunctionSpec.builder(EXPIRING).withValueSpec(SEEN).withSupplier(Expiring::new));
    return functions;
  }

  private static JsonNode command(Message message) {
    if (!message.is(COMMAND)) {
      throw new IllegalArgumentException("expected a com.example/Command, got " + message.valueTypeName());
    }
    return message.as(COMMAND);
  }

  private static void egress(Context context, String topic, String key, String value) {
    context.send(
        KafkaEgressMessage.forEgress(EGRESS)
            .withTopic(topic)
            .withUtf8Key(key)
            .withUtf8Value(value)
            .build());
  }

  private static Message note(ObjectNode value) {
    return MessageBuilder.forAddress(RECORDER, "r").withCustomType(NOTE, value).build();
  }

  /** com.example/counter: counts "add" commands, tells the recorder and the counts-out topic. */
  static final class Counter implements StatefulFunction {
    @Override
    public CompletableFuture<Void> apply(Context context, Message message) {
      String op = command(message).path("op").asText();
      if (!op.equals("add")) throw new IllegalArgumentException("counter: unknown op " + op);
      String self = context.self().id();
      int count = context.storage().get(COUNT).orElse(0) + 1;
      context.storage().set(COUNT, count);
      ObjectNode value = JSON.createObjectNode();
      value.put("tag", "counter:" + self);
      value.put("count", count);
      context.send(note(value));
      egress(context, "counts-out", self, self + "=" + count);
      return context.done();
    }
  }

  /**
   * com.example/scheduler: delayed notes to the recorder, with optional cancellation tokens; each note
   * carries when it was scheduled.
   */
  static final class Scheduler implements StatefulFunction {
    @Override
    public CompletableFuture<Void> apply(Context context, Message message) {
      JsonNode command = command(message);
      String op = command.path("op").asText();
      switch (op) {
        case "schedule": {
          ObjectNode value = JSON.createObjectNode();
          value.put("tag", command.path("tag").asText());
          value.put("scheduledAt", System.currentTimeMillis());
          Duration delay = Duration.ofMillis(command.path("delayMs").asLong());
          JsonNode token = command.get("token");
          if (token != null && !token.isNull()) {
            context.sendAfter(delay, token.asText(), note(value));
          } else {
            context.sendAfter(delay, note(value));
          }
          break;
        }
        case "cancel":
          context.cancelDelayedMessage(command.path("token").asText());
          break;
        default:
          throw new IllegalArgumentException("scheduler: unknown op " + op);
      }
      return context.done();
    }
  }

  /**
   * com.example/recorder: writes every note to the notes topic, with its caller, when it was scheduled
   * (null for notes sent at once) and when the recorder was invoked with it.
   */
  static final class Recorder implements StatefulFunction {
    @Override
    public CompletableFuture<Void> apply(Context context, Message message) throws Exception {
      long deliveredAt = System.currentTimeMillis();
      if (!message.is(NOTE)) {
        throw new IllegalArgumentException("expected a com.example/Note, got " + message.valueTypeName());
      }
      JsonNode note = message.as(NOTE);
      ObjectNode value = JSON.createObjectNode();
      value.put("tag", note.path("tag").asText());
      JsonNode count = note.get("count");
      if (count != null && count.isNumber()) value.put("count", count.asLong());
      else value.putNull("count");
      Optional<Address> caller = context.caller();
      if (caller.isPresent()) {
        Address a = caller.get();
        value.put("caller", a.type().namespace() + "/" + a.type().name() + "/" + a.id());
      } else {
        value.putNull("caller");
      }
      JsonNode scheduledAt = note.get("scheduledAt");
      if (scheduledAt != null && scheduledAt.isNumber()) value.put("scheduledAt", scheduledAt.asLong());
      else value.putNull("scheduledAt");
      value.put("deliveredAt", deliveredAt);
      egress(context, "notes", "r", JSON.writeValueAsString(value));
      return context.done();
    }
  }

  /** com.example/expiring: like the counter, on a value that expires 1 s after it was written. */
  static final class Expiring implements StatefulFunction {
    @Override
    public CompletableFuture<Void> apply(Context context, Message message) {
      String op = command(message).path("op").asText();
      if (!op.equals("add")) throw new IllegalArgumentException("expiring: unknown op " + op);
      String self = context.self().id();
      int seen = context.storage().get(SEEN).orElse(0) + 1;
      context.storage().set(SEEN, seen);
      egress(context, "expiring", self, self + "=" + seen);
      return context.done();
    }
  }
}
