package bridge

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dapr/components-contrib/conversation"
	"github.com/google/go-cmp/cmp"
	"github.com/tmc/langchaingo/llms"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	pb "github.com/pyllm/pyllm/daprd/internal/conversationpb"
)

func ptr[T any](v T) *T { return &v }

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func text(s string) *pb.ConversationContentPart {
	return &pb.ConversationContentPart{Kind: &pb.ConversationContentPart_Text{
		Text: &pb.ConversationTextPart{Text: s},
	}}
}

func message(role pb.ConversationRole, parts ...*pb.ConversationContentPart) *pb.ConversationMessage {
	if parts == nil {
		parts = []*pb.ConversationContentPart{}
	}
	return &pb.ConversationMessage{Role: role, Parts: parts}
}

var weatherSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"city":  map[string]any{"type": "string"},
		"units": map[string]any{"type": "string", "enum": []any{"c", "f"}},
	},
	"required": []any{"city"},
}

func TestRequestToProto(t *testing.T) {
	type testCase struct {
		reason string
		req    *conversation.Request
		want   *pb.ConversationConverseRequest
	}
	cases := []testCase{
		{
			reason: "an empty request leaves every optional field absent",
			req:    &conversation.Request{},
			want:   &pb.ConversationConverseRequest{},
		},
		{
			reason: "an empty message list is present, unlike a nil one",
			req:    &conversation.Request{Message: &[]llms.MessageContent{}},
			want:   &pb.ConversationConverseRequest{Messages: &pb.ConversationMessageList{}},
		},
		{
			reason: "an empty tool list is present, unlike a nil one (daprd's alpha1 API sends it)",
			req:    &conversation.Request{Tools: &[]llms.Tool{}},
			want:   &pb.ConversationConverseRequest{Tools: &pb.ConversationToolList{}},
		},
		{
			reason: "an empty tool choice is present, unlike a nil one",
			req:    &conversation.Request{ToolChoice: ptr("")},
			want:   &pb.ConversationConverseRequest{ToolChoice: ptr("")},
		},
		{
			reason: "an empty response format is present, unlike a nil one",
			req:    &conversation.Request{ResponseFormatAsJSONSchema: map[string]any{}},
			want:   &pb.ConversationConverseRequest{ResponseFormat: &structpb.Struct{}},
		},
		{
			reason: "a zero prompt cache retention is present, unlike a nil one",
			req:    &conversation.Request{PromptCacheRetention: ptr(time.Duration(0))},
			want:   &pb.ConversationConverseRequest{PromptCacheRetention: &durationpb.Duration{}},
		},
		{
			reason: "every role maps to its contract value; a message without parts stays empty",
			req: &conversation.Request{Message: &[]llms.MessageContent{
				{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{llms.TextContent{Text: "h"}}},
				{Role: llms.ChatMessageTypeSystem, Parts: []llms.ContentPart{llms.TextContent{Text: "s"}}},
				{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.TextContent{Text: "a"}}},
				{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.TextContent{Text: "t"}}},
				{Role: llms.ChatMessageTypeFunction, Parts: []llms.ContentPart{llms.TextContent{Text: "f"}}},
				{Role: llms.ChatMessageTypeGeneric, Parts: []llms.ContentPart{llms.TextContent{Text: "g"}}},
				{Role: "developer", Parts: []llms.ContentPart{llms.TextContent{Text: "d"}}},
				{Role: llms.ChatMessageTypeHuman},
			}},
			want: &pb.ConversationConverseRequest{Messages: &pb.ConversationMessageList{Items: []*pb.ConversationMessage{
				message(pb.ConversationRole_CONVERSATION_ROLE_HUMAN, text("h")),
				message(pb.ConversationRole_CONVERSATION_ROLE_SYSTEM, text("s")),
				message(pb.ConversationRole_CONVERSATION_ROLE_AI, text("a")),
				message(pb.ConversationRole_CONVERSATION_ROLE_TOOL, text("t")),
				message(pb.ConversationRole_CONVERSATION_ROLE_FUNCTION, text("f")),
				message(pb.ConversationRole_CONVERSATION_ROLE_GENERIC, text("g")),
				message(pb.ConversationRole_CONVERSATION_ROLE_DEVELOPER, text("d")),
				message(pb.ConversationRole_CONVERSATION_ROLE_HUMAN),
			}}},
		},
		{
			reason: "every part kind, as values and as pointers, keeps all its fields",
			req: &conversation.Request{Message: &[]llms.MessageContent{
				{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{
					llms.TextContent{Text: "calling"},
					llms.ToolCall{ID: "call_1", Type: "function", FunctionCall: &llms.FunctionCall{
						Name: "weather", Arguments: `{"city":"Paris"}`,
					}},
					llms.ToolCall{ID: "call_2", Type: "function"},
					&llms.TextContent{Text: "pointer"},
					&llms.ToolCall{ID: "call_3", FunctionCall: &llms.FunctionCall{Name: "n"}},
				}},
				{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{
					llms.ToolCallResponse{ToolCallID: "call_1", Name: "weather", Content: "sunny"},
					&llms.ToolCallResponse{ToolCallID: "call_3", Name: "n", Content: ""},
				}},
			}},
			want: &pb.ConversationConverseRequest{Messages: &pb.ConversationMessageList{Items: []*pb.ConversationMessage{
				message(pb.ConversationRole_CONVERSATION_ROLE_AI,
					text("calling"),
					&pb.ConversationContentPart{Kind: &pb.ConversationContentPart_ToolCall{
						ToolCall: &pb.ConversationToolCall{Id: "call_1", Type: "function",
							Function: &pb.ConversationFunctionCall{Name: "weather", Arguments: `{"city":"Paris"}`}},
					}},
					&pb.ConversationContentPart{Kind: &pb.ConversationContentPart_ToolCall{
						ToolCall: &pb.ConversationToolCall{Id: "call_2", Type: "function"},
					}},
					text("pointer"),
					&pb.ConversationContentPart{Kind: &pb.ConversationContentPart_ToolCall{
						ToolCall: &pb.ConversationToolCall{Id: "call_3",
							Function: &pb.ConversationFunctionCall{Name: "n"}},
					}},
				),
				message(pb.ConversationRole_CONVERSATION_ROLE_TOOL,
					&pb.ConversationContentPart{Kind: &pb.ConversationContentPart_ToolCallResponse{
						ToolCallResponse: &pb.ConversationToolCallResponse{
							ToolCallId: "call_1", Name: "weather", Content: "sunny"},
					}},
					&pb.ConversationContentPart{Kind: &pb.ConversationContentPart_ToolCallResponse{
						ToolCallResponse: &pb.ConversationToolCallResponse{ToolCallId: "call_3", Name: "n"},
					}},
				),
			}}},
		},
		{
			reason: "tools keep type, name, description, schema and strict; nil and empty schemas differ",
			req: &conversation.Request{Tools: &[]llms.Tool{
				{Type: "function", Function: &llms.FunctionDefinition{
					Name: "weather", Description: "Weather in a city", Parameters: weatherSchema, Strict: true,
				}},
				{Type: "function", Function: &llms.FunctionDefinition{Name: "none"}},
				{Type: "function", Function: &llms.FunctionDefinition{Name: "nilmap", Parameters: map[string]any(nil)}},
				{Type: "function", Function: &llms.FunctionDefinition{Name: "empty", Parameters: map[string]any{}}},
				{Type: "function"},
			}},
			want: &pb.ConversationConverseRequest{Tools: &pb.ConversationToolList{Items: []*pb.ConversationTool{
				{Type: "function", Function: &pb.ConversationFunctionDefinition{
					Name: "weather", Description: "Weather in a city",
					Parameters: mustStruct(t, weatherSchema), Strict: true,
				}},
				{Type: "function", Function: &pb.ConversationFunctionDefinition{Name: "none"}},
				{Type: "function", Function: &pb.ConversationFunctionDefinition{Name: "nilmap"}},
				{Type: "function", Function: &pb.ConversationFunctionDefinition{
					Name: "empty", Parameters: &structpb.Struct{},
				}},
				{Type: "function"},
			}}},
		},
		{
			reason: "the scalar and map fields are carried as they are",
			req: &conversation.Request{
				ToolChoice:                 ptr("weather"),
				Temperature:                0.25,
				Metadata:                   map[string]string{"model": "m", "": "empty key"},
				ResponseFormatAsJSONSchema: weatherSchema,
				PromptCacheRetention:       ptr(90*time.Minute + 1500*time.Millisecond),
				Parameters: map[string]*anypb.Any{
					"max_tokens": mustAny(t, wrapperspb.Int64(64)),
					"stop":       mustAny(t, wrapperspb.String("END")),
				},
				ConversationContext: "ctx-1",
			},
			want: &pb.ConversationConverseRequest{
				ToolChoice:     ptr("weather"),
				Temperature:    0.25,
				Metadata:       map[string]string{"model": "m", "": "empty key"},
				ResponseFormat: mustStruct(t, weatherSchema),
				PromptCacheRetention: &durationpb.Duration{
					Seconds: 90*60 + 1, Nanos: 500_000_000,
				},
				Parameters: map[string]*anypb.Any{
					"max_tokens": mustAny(t, wrapperspb.Int64(64)),
					"stop":       mustAny(t, wrapperspb.String("END")),
				},
				ContextId: "ctx-1",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			got, err := RequestToProto(tc.req)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("request mismatch (-want +got):\n%s", diff)
			}
			// Presence is what the cases are about: check it on the wire too.
			wire, err := proto.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			back := &pb.ConversationConverseRequest{}
			if err := proto.Unmarshal(wire, back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, back, protocmp.Transform()); diff != "" {
				t.Errorf("request changed on the wire (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestToProtoRefuses(t *testing.T) {
	type testCase struct {
		reason string
		req    *conversation.Request
		// every fragment must appear in the error
		want []string
	}
	human := func(parts ...llms.ContentPart) *[]llms.MessageContent {
		return &[]llms.MessageContent{
			{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{llms.TextContent{Text: "ok"}}},
			{Role: llms.ChatMessageTypeHuman, Parts: parts},
		}
	}
	fn := func(params any) *[]llms.Tool {
		return &[]llms.Tool{{Type: "function", Function: &llms.FunctionDefinition{Name: "f", Parameters: params}}}
	}
	cases := []testCase{
		{
			reason: "no request at all",
			req:    nil,
			want:   []string{"request is nil"},
		},
		{
			reason: "an image URL part names its Go type and where it is",
			req:    &conversation.Request{Message: human(llms.TextContent{}, llms.ImageURLContent{URL: "http://x"})},
			want:   []string{"messages[1].parts[1]", "llms.ImageURLContent", "llms.TextContent, llms.ToolCall or llms.ToolCallResponse"},
		},
		{
			reason: "a binary part names its Go type",
			req:    &conversation.Request{Message: human(llms.BinaryContent{MIMEType: "image/png"})},
			want:   []string{"messages[1].parts[0]", "llms.BinaryContent"},
		},
		{
			reason: "a pointer to an unsupported part names the pointer type",
			req:    &conversation.Request{Message: human(&llms.ImageURLContent{})},
			want:   []string{"*llms.ImageURLContent"},
		},
		{
			reason: "a nil part",
			req:    &conversation.Request{Message: human(nil)},
			want:   []string{"messages[1].parts[0]", "content part is nil"},
		},
		{
			reason: "a nil pointer part",
			req:    &conversation.Request{Message: human((*llms.TextContent)(nil))},
			want:   []string{"messages[1].parts[0]", "nil *llms.TextContent"},
		},
		{
			reason: "an unknown role lists the accepted ones",
			req: &conversation.Request{Message: &[]llms.MessageContent{
				{Role: "wizard", Parts: []llms.ContentPart{llms.TextContent{Text: "x"}}},
			}},
			want: []string{"messages[0]", `"wizard"`, acceptedRoles},
		},
		{
			reason: "an empty role",
			req:    &conversation.Request{Message: &[]llms.MessageContent{{Role: ""}}},
			want:   []string{"messages[0]", `role ""`},
		},
		{
			reason: "a schema that is not a map names its Go type",
			req:    &conversation.Request{Tools: fn(`{"type":"object"}`)},
			want:   []string{"tools[0].function.parameters", "Go type string", "map[string]any"},
		},
		{
			reason: "a schema that is a typed struct names its Go type",
			req:    &conversation.Request{Tools: fn(struct{ A int }{1})},
			want:   []string{"tools[0].function.parameters", "struct { A int }"},
		},
		{
			reason: "a schema holding a value JSON cannot carry",
			req:    &conversation.Request{Tools: fn(map[string]any{"bad": make(chan int)})},
			want:   []string{"tools[0].function.parameters", "not a JSON object"},
		},
		{
			reason: "a web search tool",
			req: &conversation.Request{Tools: &[]llms.Tool{
				{Type: "function", Function: &llms.FunctionDefinition{Name: "f"}},
				{Type: "web_search", WebSearch: &llms.WebSearchConfig{SearchContextSize: "low"}},
			}},
			want: []string{"tools[1]", "web search"},
		},
		{
			reason: "a response format JSON cannot carry",
			req:    &conversation.Request{ResponseFormatAsJSONSchema: map[string]any{"x": struct{}{}}},
			want:   []string{"response format"},
		},
		{
			reason: "a nil parameter value",
			req:    &conversation.Request{Parameters: map[string]*anypb.Any{"k": nil}},
			want:   []string{`parameters["k"] is nil`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			got, err := RequestToProto(tc.req)
			if err == nil {
				t.Fatalf("no error; got %v", got)
			}
			for _, fragment := range tc.want {
				if !strings.Contains(err.Error(), fragment) {
					t.Errorf("error %q does not contain %q", err, fragment)
				}
			}
		})
	}
}

// TestEveryRoleIsListed keeps the accepted roles in errors in step with the
// mapping.
func TestEveryRoleIsListed(t *testing.T) {
	for role := range roles {
		if !strings.Contains(acceptedRoles, `"`+string(role)+`"`) {
			t.Errorf("role %q is mapped but not listed in acceptedRoles", role)
		}
	}
}

// TestRequestCarriesEveryField fails when components-contrib or the contract
// gains a field this bridge does not map: a full request must populate every
// field of the contract's request, and the Go types must have the fields the
// mapping knows of.
func TestRequestCarriesEveryField(t *testing.T) {
	full := &conversation.Request{
		Message: &[]llms.MessageContent{{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{
			llms.TextContent{Text: "x"},
		}}},
		Tools:                      &[]llms.Tool{{Type: "function", Function: &llms.FunctionDefinition{Name: "f"}}},
		ToolChoice:                 ptr("auto"),
		Temperature:                1,
		Metadata:                   map[string]string{"k": "v"},
		ResponseFormatAsJSONSchema: map[string]any{"type": "object"},
		PromptCacheRetention:       ptr(time.Second),
		Parameters:                 map[string]*anypb.Any{"p": mustAny(t, wrapperspb.Bool(true))},
		ConversationContext:        "c",
	}
	got, err := RequestToProto(full)
	if err != nil {
		t.Fatal(err)
	}
	fields := got.ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		if field := fields.Get(i); !got.ProtoReflect().Has(field) {
			t.Errorf("contract field %s is not set from a full request", field.Name())
		}
	}

	known := map[reflect.Type][]string{
		reflect.TypeFor[conversation.Request](): {
			"Message", "Tools", "ToolChoice", "Temperature", "Metadata",
			"ResponseFormatAsJSONSchema", "PromptCacheRetention", "Parameters", "ConversationContext",
		},
		reflect.TypeFor[llms.MessageContent]():     {"Role", "Parts"},
		reflect.TypeFor[llms.TextContent]():        {"Text"},
		reflect.TypeFor[llms.ToolCall]():           {"ID", "Type", "FunctionCall"},
		reflect.TypeFor[llms.FunctionCall]():       {"Name", "Arguments"},
		reflect.TypeFor[llms.ToolCallResponse]():   {"ToolCallID", "Name", "Content"},
		reflect.TypeFor[llms.Tool]():               {"Type", "Function", "WebSearch"},
		reflect.TypeFor[llms.FunctionDefinition](): {"Name", "Description", "Parameters", "Strict"},
	}
	for typ, names := range known {
		assertFields(t, typ, names)
	}
}

func assertFields(t *testing.T, typ reflect.Type, names []string) {
	t.Helper()
	var got []string
	for i := range typ.NumField() {
		got = append(got, typ.Field(i).Name)
	}
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("%s has fields the bridge does not know of (-known +actual):\n%s", typ, diff)
	}
}

// protoFieldNames is used by the response test to check the same on the way back.
func protoFieldNames(d protoreflect.MessageDescriptor) []string {
	var names []string
	for i := range d.Fields().Len() {
		names = append(names, string(d.Fields().Get(i).Name()))
	}
	return names
}
