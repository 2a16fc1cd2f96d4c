package bridge

import (
	"reflect"
	"testing"

	"github.com/dapr/components-contrib/conversation"
	"github.com/google/go-cmp/cmp"
	"github.com/tmc/langchaingo/llms"

	pb "github.com/pyllm/pyllm/daprd/internal/conversationpb"
)

func TestResponseFromProto(t *testing.T) {
	type testCase struct {
		reason string
		resp   *pb.ConversationConverseResponse
		want   *conversation.Response
	}
	cases := []testCase{
		{
			reason: "an empty response has no outputs and nil usage",
			resp:   &pb.ConversationConverseResponse{},
			want:   &conversation.Response{Outputs: []conversation.Result{}},
		},
		{
			reason: "an output without choices has nil Choices (daprd's alpha1 API reads Choices[0] otherwise)",
			resp: &pb.ConversationConverseResponse{Outputs: []*pb.ConversationOutput{
				{StopReason: "stop"},
				{StopReason: "length", Choices: []*pb.ConversationChoice{}},
			}},
			want: &conversation.Response{Outputs: []conversation.Result{
				{StopReason: "stop"},
				{StopReason: "length"},
			}},
		},
		{
			reason: "absent tool calls are nil, an empty list is a pointer to an empty slice",
			resp: &pb.ConversationConverseResponse{Outputs: []*pb.ConversationOutput{{
				StopReason: "stop",
				Choices: []*pb.ConversationChoice{
					{FinishReason: "stop", Index: 0, Message: &pb.ConversationResultMessage{Content: "a"}},
					{FinishReason: "stop", Index: 1, Message: &pb.ConversationResultMessage{
						Content: "b", ToolCalls: &pb.ConversationToolCallList{},
					}},
					{FinishReason: "stop", Index: 2},
				},
			}}},
			want: &conversation.Response{Outputs: []conversation.Result{{
				StopReason: "stop",
				Choices: []conversation.Choice{
					{FinishReason: "stop", Index: 0, Message: conversation.Message{Content: "a"}},
					{FinishReason: "stop", Index: 1, Message: conversation.Message{
						Content: "b", ToolCallRequest: &[]llms.ToolCall{},
					}},
					{FinishReason: "stop", Index: 2},
				},
			}}},
		},
		{
			reason: "every tool call gets a FunctionCall, even without a function (daprd dereferences it)",
			resp: &pb.ConversationConverseResponse{Outputs: []*pb.ConversationOutput{{
				StopReason: "tool_calls",
				Choices: []*pb.ConversationChoice{{
					FinishReason: "tool_calls",
					Message: &pb.ConversationResultMessage{ToolCalls: &pb.ConversationToolCallList{
						Items: []*pb.ConversationToolCall{
							{Id: "0", Type: "function", Function: &pb.ConversationFunctionCall{
								Name: "weather", Arguments: "city,units",
							}},
							{Id: "1", Type: "function"},
						},
					}},
				}},
			}}},
			want: &conversation.Response{Outputs: []conversation.Result{{
				StopReason: "tool_calls",
				Choices: []conversation.Choice{{
					FinishReason: "tool_calls",
					Message: conversation.Message{ToolCallRequest: &[]llms.ToolCall{
						{ID: "0", Type: "function", FunctionCall: &llms.FunctionCall{
							Name: "weather", Arguments: "city,units",
						}},
						{ID: "1", Type: "function", FunctionCall: &llms.FunctionCall{}},
					}},
				}},
			}}},
		},
		{
			reason: "usage without details keeps nil details",
			resp: &pb.ConversationConverseResponse{Usage: &pb.ConversationUsage{
				PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3,
			}},
			want: &conversation.Response{Outputs: []conversation.Result{}, Usage: &conversation.Usage{
				PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3,
			}},
		},
		{
			reason: "zero usage is present, unlike absent usage",
			resp:   &pb.ConversationConverseResponse{Usage: &pb.ConversationUsage{}},
			want:   &conversation.Response{Outputs: []conversation.Result{}, Usage: &conversation.Usage{}},
		},
		{
			reason: "a full response keeps every field",
			resp: &pb.ConversationConverseResponse{
				Model:     "gpt-test",
				ContextId: "ctx-1",
				Outputs: []*pb.ConversationOutput{{
					StopReason: "stop",
					Choices: []*pb.ConversationChoice{{
						FinishReason: "stop", Index: 7,
						Message: &pb.ConversationResultMessage{Content: "hi", ToolCalls: &pb.ConversationToolCallList{
							Items: []*pb.ConversationToolCall{{Id: "c", Type: "function",
								Function: &pb.ConversationFunctionCall{Name: "n", Arguments: "{}"}}},
						}},
					}},
				}},
				Usage: &pb.ConversationUsage{
					PromptTokens: 10, CompletionTokens: 20, TotalTokens: 30,
					PromptTokensDetails: &pb.ConversationPromptTokensDetails{CachedTokens: 4, AudioTokens: 5},
					CompletionTokensDetails: &pb.ConversationCompletionTokensDetails{
						ReasoningTokens: 6, AudioTokens: 7, AcceptedPredictionTokens: 8, RejectedPredictionTokens: 9,
					},
				},
			},
			want: &conversation.Response{
				Model:               "gpt-test",
				ConversationContext: "ctx-1",
				Outputs: []conversation.Result{{
					StopReason: "stop",
					Choices: []conversation.Choice{{
						FinishReason: "stop", Index: 7,
						Message: conversation.Message{Content: "hi", ToolCallRequest: &[]llms.ToolCall{
							{ID: "c", Type: "function", FunctionCall: &llms.FunctionCall{Name: "n", Arguments: "{}"}},
						}},
					}},
				}},
				Usage: &conversation.Usage{
					PromptTokens: 10, CompletionTokens: 20, TotalTokens: 30,
					PromptTokensDetails: &conversation.PromptTokensDetails{CachedTokens: 4, AudioTokens: 5},
					CompletionTokensDetails: &conversation.CompletionTokensDetails{
						ReasoningTokens: 6, AudioTokens: 7, AcceptedPredictionTokens: 8, RejectedPredictionTokens: 9,
					},
				},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			got, err := ResponseFromProto(tc.resp)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			// cmp tells nil slices and pointers from empty ones, which is the point.
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResponseFromProtoRefusesNil(t *testing.T) {
	if _, err := ResponseFromProto(nil); err == nil {
		t.Fatal("a nil response was accepted")
	}
}

// TestResponseKnowsEveryField fails when either side of the answer gains a
// field this bridge does not map.
func TestResponseKnowsEveryField(t *testing.T) {
	goTypes := map[reflect.Type][]string{
		reflect.TypeFor[conversation.Response](): {"Outputs", "Model", "ConversationContext", "Usage"},
		reflect.TypeFor[conversation.Result]():   {"StopReason", "Choices"},
		reflect.TypeFor[conversation.Choice]():   {"FinishReason", "Index", "Message"},
		reflect.TypeFor[conversation.Message]():  {"Content", "ToolCallRequest"},
		reflect.TypeFor[conversation.Usage](): {
			"CompletionTokens", "PromptTokens", "TotalTokens", "CompletionTokensDetails", "PromptTokensDetails",
		},
		reflect.TypeFor[conversation.PromptTokensDetails](): {"AudioTokens", "CachedTokens"},
		reflect.TypeFor[conversation.CompletionTokensDetails](): {
			"AcceptedPredictionTokens", "AudioTokens", "ReasoningTokens", "RejectedPredictionTokens",
		},
	}
	for typ, names := range goTypes {
		assertFields(t, typ, names)
	}

	protoTypes := map[string]struct {
		got  []string
		want []string
	}{
		"ConversationConverseResponse": {
			protoFieldNames((&pb.ConversationConverseResponse{}).ProtoReflect().Descriptor()),
			[]string{"outputs", "model", "context_id", "usage"},
		},
		"ConversationOutput": {
			protoFieldNames((&pb.ConversationOutput{}).ProtoReflect().Descriptor()),
			[]string{"stop_reason", "choices"},
		},
		"ConversationChoice": {
			protoFieldNames((&pb.ConversationChoice{}).ProtoReflect().Descriptor()),
			[]string{"finish_reason", "index", "message"},
		},
		"ConversationResultMessage": {
			protoFieldNames((&pb.ConversationResultMessage{}).ProtoReflect().Descriptor()),
			[]string{"content", "tool_calls"},
		},
		"ConversationToolCall": {
			protoFieldNames((&pb.ConversationToolCall{}).ProtoReflect().Descriptor()),
			[]string{"id", "type", "function"},
		},
		"ConversationUsage": {
			protoFieldNames((&pb.ConversationUsage{}).ProtoReflect().Descriptor()),
			[]string{"prompt_tokens", "completion_tokens", "total_tokens",
				"prompt_tokens_details", "completion_tokens_details"},
		},
		"ConversationPromptTokensDetails": {
			protoFieldNames((&pb.ConversationPromptTokensDetails{}).ProtoReflect().Descriptor()),
			[]string{"cached_tokens", "audio_tokens"},
		},
		"ConversationCompletionTokensDetails": {
			protoFieldNames((&pb.ConversationCompletionTokensDetails{}).ProtoReflect().Descriptor()),
			[]string{"reasoning_tokens", "audio_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens"},
		},
	}
	for name, fields := range protoTypes {
		if diff := cmp.Diff(fields.want, fields.got); diff != "" {
			t.Errorf("%s has fields the bridge does not know of (-known +actual):\n%s", name, diff)
		}
	}
}
