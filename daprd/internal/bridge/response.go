package bridge

import (
	"errors"

	"github.com/dapr/components-contrib/conversation"
	"github.com/tmc/langchaingo/llms"

	pb "github.com/pyllm/pyllm/daprd/internal/conversationpb"
)

// ResponseFromProto converts the contract's answer into the response daprd
// reads. The shapes daprd relies on are kept: an output without choices has a
// nil Choices (daprd's alpha1 API reads Choices[0] whenever Choices is not
// nil), absent tool calls are a nil pointer and present ones a pointer to a
// slice, every tool call has a FunctionCall (daprd dereferences it), and
// absent usage stays nil.
func ResponseFromProto(resp *pb.ConversationConverseResponse) (*conversation.Response, error) {
	if resp == nil {
		return nil, errors.New("the component returned no response")
	}
	out := &conversation.Response{
		Outputs:             make([]conversation.Result, 0, len(resp.GetOutputs())),
		Model:               resp.GetModel(),
		ConversationContext: resp.GetContextId(),
		Usage:               usageFromProto(resp.GetUsage()),
	}
	for _, output := range resp.GetOutputs() {
		out.Outputs = append(out.Outputs, resultFromProto(output))
	}
	return out, nil
}

func resultFromProto(output *pb.ConversationOutput) conversation.Result {
	result := conversation.Result{StopReason: output.GetStopReason()}
	if len(output.GetChoices()) == 0 {
		return result
	}
	result.Choices = make([]conversation.Choice, 0, len(output.GetChoices()))
	for _, choice := range output.GetChoices() {
		result.Choices = append(result.Choices, conversation.Choice{
			FinishReason: choice.GetFinishReason(),
			Index:        choice.GetIndex(),
			Message:      messageFromProto(choice.GetMessage()),
		})
	}
	return result
}

func messageFromProto(message *pb.ConversationResultMessage) conversation.Message {
	out := conversation.Message{Content: message.GetContent()}
	if list := message.GetToolCalls(); list != nil {
		calls := make([]llms.ToolCall, 0, len(list.GetItems()))
		for _, call := range list.GetItems() {
			calls = append(calls, toolCallFromProto(call))
		}
		out.ToolCallRequest = &calls
	}
	return out
}

func toolCallFromProto(call *pb.ConversationToolCall) llms.ToolCall {
	return llms.ToolCall{
		ID:   call.GetId(),
		Type: call.GetType(),
		FunctionCall: &llms.FunctionCall{
			Name:      call.GetFunction().GetName(),
			Arguments: call.GetFunction().GetArguments(),
		},
	}
}

func usageFromProto(usage *pb.ConversationUsage) *conversation.Usage {
	if usage == nil {
		return nil
	}
	out := &conversation.Usage{
		PromptTokens:     usage.GetPromptTokens(),
		CompletionTokens: usage.GetCompletionTokens(),
		TotalTokens:      usage.GetTotalTokens(),
	}
	if d := usage.GetPromptTokensDetails(); d != nil {
		out.PromptTokensDetails = &conversation.PromptTokensDetails{
			CachedTokens: d.GetCachedTokens(),
			AudioTokens:  d.GetAudioTokens(),
		}
	}
	if d := usage.GetCompletionTokensDetails(); d != nil {
		out.CompletionTokensDetails = &conversation.CompletionTokensDetails{
			ReasoningTokens:          d.GetReasoningTokens(),
			AudioTokens:              d.GetAudioTokens(),
			AcceptedPredictionTokens: d.GetAcceptedPredictionTokens(),
			RejectedPredictionTokens: d.GetRejectedPredictionTokens(),
		}
	}
	return out
}
