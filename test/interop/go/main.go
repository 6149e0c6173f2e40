// Functions written with the official StateFun Go SDK (statefun-sdk-go/v3 v3.3.0), served with
// net/http on 127.0.0.1:<port> (first argument), every path, POST only.
//
// The behaviour is the same in every language of test/interop (see official-sdks.test.ts).
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/apache/flink-statefun/statefun-sdk-go/v3/pkg/statefun"
)

var (
	commandType = statefun.MakeJsonType(statefun.TypeNameFrom("com.example/Command"))
	noteType    = statefun.MakeJsonType(statefun.TypeNameFrom("com.example/Note"))
	recorder    = statefun.TypeNameFrom("com.example/recorder")
	out         = statefun.TypeNameFrom("com.example/out")

	countSpec = statefun.ValueSpec{Name: "count", ValueType: statefun.Int32Type}
	seenSpec  = statefun.ValueSpec{
		Name:       "seen",
		ValueType:  statefun.Int32Type,
		Expiration: statefun.ExpireAfterWrite(time.Second),
	}
)

type command struct {
	Op      string  `json:"op"`
	Tag     string  `json:"tag"`
	DelayMs int64   `json:"delayMs"`
	Token   *string `json:"token"`
}

type note struct {
	Tag   string `json:"tag"`
	Count *int32 `json:"count,omitempty"`
	// When the scheduler scheduled this note (ms since the epoch); absent from the counter's notes.
	ScheduledAt *int64 `json:"scheduledAt,omitempty"`
}

// What the recorder writes to the notes topic: count, caller and scheduledAt are null when absent;
// deliveredAt is when the recorder was invoked with the note (ms since the epoch).
type noteRecord struct {
	Tag         string  `json:"tag"`
	Count       *int32  `json:"count"`
	Caller      *string `json:"caller"`
	ScheduledAt *int64  `json:"scheduledAt"`
	DeliveredAt int64   `json:"deliveredAt"`
}

func readCommand(message statefun.Message) (command, error) {
	var cmd command
	err := message.As(commandType, &cmd)
	return cmd, err
}

func toRecorder(n note) statefun.MessageBuilder {
	return statefun.MessageBuilder{
		Target:    statefun.Address{FunctionType: recorder, Id: "r"},
		Value:     n,
		ValueType: noteType,
	}
}

func counter(ctx statefun.Context, message statefun.Message) error {
	cmd, err := readCommand(message)
	if err != nil || cmd.Op != "add" {
		return err
	}
	var count int32
	ctx.Storage().Get(countSpec, &count)
	count++
	ctx.Storage().Set(countSpec, count)
	id := ctx.Self().Id
	ctx.Send(toRecorder(note{Tag: "counter:" + id, Count: &count}))
	ctx.SendEgress(statefun.KafkaEgressBuilder{
		Target: out,
		Topic:  "counts-out",
		Key:    id,
		Value:  fmt.Sprintf("%s=%d", id, count),
	})
	return nil
}

func scheduler(ctx statefun.Context, message statefun.Message) error {
	cmd, err := readCommand(message)
	if err != nil {
		return err
	}
	switch cmd.Op {
	case "schedule":
		delay := time.Duration(cmd.DelayMs) * time.Millisecond
		scheduledAt := time.Now().UnixMilli()
		msg := toRecorder(note{Tag: cmd.Tag, ScheduledAt: &scheduledAt})
		if cmd.Token == nil {
			ctx.SendAfter(delay, msg)
			return nil
		}
		token, err := statefun.NewCancellationToken(*cmd.Token)
		if err != nil {
			return err
		}
		ctx.SendAfterWithCancellationToken(delay, token, msg)
	case "cancel":
		if cmd.Token == nil {
			return fmt.Errorf("cancel without a token")
		}
		token, err := statefun.NewCancellationToken(*cmd.Token)
		if err != nil {
			return err
		}
		ctx.CancelDelayedMessage(token)
	}
	return nil
}

func record(ctx statefun.Context, message statefun.Message) error {
	deliveredAt := time.Now().UnixMilli()
	var n note
	if err := message.As(noteType, &n); err != nil {
		return err
	}
	rec := noteRecord{Tag: n.Tag, Count: n.Count, ScheduledAt: n.ScheduledAt, DeliveredAt: deliveredAt}
	if caller := ctx.Caller(); caller != nil {
		c := caller.FunctionType.String() + "/" + caller.Id
		rec.Caller = &c
	}
	value, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	ctx.SendEgress(statefun.KafkaEgressBuilder{Target: out, Topic: "notes", Key: "r", Value: value})
	return nil
}

func expiring(ctx statefun.Context, message statefun.Message) error {
	cmd, err := readCommand(message)
	if err != nil || cmd.Op != "add" {
		return err
	}
	var seen int32
	ctx.Storage().Get(seenSpec, &seen)
	seen++
	ctx.Storage().Set(seenSpec, seen)
	id := ctx.Self().Id
	ctx.SendEgress(statefun.KafkaEgressBuilder{
		Target: out,
		Topic:  "expiring",
		Key:    id,
		Value:  fmt.Sprintf("%s=%d", id, seen),
	})
	return nil
}

func main() {
	log.SetOutput(os.Stderr)
	if len(os.Args) != 2 {
		log.Fatalf("usage: %s <port>", os.Args[0])
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil {
		log.Fatalf("not a port: %s", os.Args[1])
	}

	builder := statefun.StatefulFunctionsBuilder()
	specs := []statefun.StatefulFunctionSpec{
		{
			FunctionType: statefun.TypeNameFrom("com.example/counter"),
			States:       []statefun.ValueSpec{countSpec},
			Function:     statefun.StatefulFunctionPointer(counter),
		},
		{
			FunctionType: statefun.TypeNameFrom("com.example/scheduler"),
			Function:     statefun.StatefulFunctionPointer(scheduler),
		},
		{
			FunctionType: recorder,
			Function:     statefun.StatefulFunctionPointer(record),
		},
		{
			FunctionType: statefun.TypeNameFrom("com.example/expiring"),
			States:       []statefun.ValueSpec{seenSpec},
			Function:     statefun.StatefulFunctionPointer(expiring),
		},
	}
	for _, spec := range specs {
		if err := builder.WithSpec(spec); err != nil {
			log.Fatalf("registering %v: %v", spec.FunctionType, err)
		}
	}

	address := fmt.Sprintf("127.0.0.1:%d", port)
	log.Printf("official Go SDK functions listening on %s", address)
	// The SDK's handler answers POST on any path.
	log.Fatal(http.ListenAndServe(address, builder.AsHandler()))
}
